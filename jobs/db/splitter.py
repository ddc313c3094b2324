"""Split a T-SQL script into batches at ``GO`` lines, the way sqlcmd and SSMS do.

``GO`` is a client batch separator, not T-SQL: it stands alone on its line (white space and a
trailing ``--`` comment allowed), in any letter case, optionally with a repeat count (``GO 5``).
A ``GO`` inside a block comment or a string literal that spans lines is text, not a separator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GO_LINE = re.compile(r"^[ \t]*go(?:[ \t]+(\d+))?[ \t]*(?:--.*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Batch:
    text: str
    repeat: int = 1
    first_line: int = 1  # 1-based line number of the batch's first line in the script


def _scan_state(line: str, in_comment: int, in_string: bool) -> tuple[int, bool]:
    """Given the lexical state before ``line``, return it after: nested block-comment depth and
    whether a single-quoted string is open."""
    index = 0
    length = len(line)
    while index < length:
        pair = line[index : index + 2]
        char = line[index]
        if in_string:
            if char == "'":
                if line[index + 1 : index + 2] == "'":
                    index += 2
                    continue
                in_string = False
        elif in_comment:
            if pair == "/*":
                in_comment += 1
                index += 1
            elif pair == "*/":
                in_comment -= 1
                index += 1
        elif pair == "--":
            break
        elif pair == "/*":
            in_comment += 1
            index += 1
        elif char == "'":
            in_string = True
        index += 1
    return in_comment, in_string


def split_batches(script: str) -> list[Batch]:
    """Return the script's non-empty batches in order, each with its ``GO n`` repeat count."""
    batches: list[Batch] = []
    current: list[str] = []
    start = 1
    in_comment, in_string = 0, False
    for number, line in enumerate(script.splitlines(), start=1):
        match = None if (in_comment or in_string) else _GO_LINE.match(line)
        if match:
            text = "\n".join(current).strip()
            if text:
                batches.append(Batch(text, int(match.group(1) or 1), start))
            current, start = [], number + 1
            continue
        if not current:
            start = number
        current.append(line)
        in_comment, in_string = _scan_state(line, in_comment, in_string)
    text = "\n".join(current).strip()
    if text:
        batches.append(Batch(text, 1, start))
    return batches
