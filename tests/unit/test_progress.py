from __future__ import annotations

import io

from jobs import events, progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_progress_bars_in_json_or_non_terminal_output():
    events.configure(log_format="auto", stream=io.StringIO())
    assert progress.for_run() is None
    events.configure(log_format="json", stream=FakeTerminal())
    assert progress.for_run() is None


def test_progress_bars_on_an_interactive_terminal():
    events.configure(log_format="auto", stream=FakeTerminal())
    bars = progress.for_run()
    assert bars is not None
    bars.start("decline", 10)
    bars.advance(4)
    assert bars.progress.tasks[0].completed == 4
    bars.finish()
    bars.close()
    events.configure(log_format="json")


def test_event_lines_and_progress_bars_share_one_console_and_do_not_garble():
    """An event logged while a bar is drawn appears on a line of its own, whole, and the bar is
    drawn again below it (rich clears the bar, prints the line, redraws)."""
    import re

    terminal = FakeTerminal()
    events.configure(log_format="console", stream=terminal)
    try:
        bars = progress.for_run()
        assert bars is not None
        assert bars.progress.console is events.terminal_console()
        bars.start("decline", 10)
        bars.advance(3)
        bars.progress.refresh()
        events.get_logger("test").warning("retry", stage="decline", attempt=2)
        bars.advance(3)
        bars.progress.refresh()
        bars.finish()
        bars.close()
    finally:
        events.configure(log_format="json")
    output = terminal.getvalue()
    # Remove cursor movements and line erases; what is left is what the terminal shows, in order.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "\n", output)
    (line,) = [line for line in text.splitlines() if "retry" in line]
    assert "━" not in line and "decline" in line and "attempt=2" in line
    assert "retry" in line.split("[warning ]")[-1]
    # The bar was drawn both before and after the event line.
    position = text.index("retry")
    assert "3/10" in text[:position] and "6/10" in text[position:]
