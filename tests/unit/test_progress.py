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
