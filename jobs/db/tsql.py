"""T-SQL lexing on sqlparse's lexer: comments, strings, bracketed names, ``?`` markers, ``;`` and
``GO``. Every piece of the project that reads T-SQL text (the batch splitter, the catalog's marker
count, the simulator's statement split and placeholder numbering, the spDeleteUpdate fingerprint)
goes through here, so a ``?`` or a ``GO`` inside a string, a comment or ``[a name]`` is never
mistaken for code.

sqlparse does not nest block comments; SQL Server does (``/* a /* b */ still a comment */``), so a
block comment left open by sqlparse is carried on to its real end here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlparse import lexer
from sqlparse import tokens as T

Token = tuple[object, str]  # (sqlparse token type, text)
_GO = re.compile(r"^go(?:\s+(\d+))?$", re.I)  # sqlparse lexes "GO 3" as one keyword


def tokens(text: str) -> Iterator[Token]:
    """Yield the text's tokens; their texts joined give the text back."""
    offset = 0
    while offset < len(text):
        for token_type, value in lexer.tokenize(text[offset:]):  # type: ignore[no-untyped-call]
            if token_type in T.Comment.Multiline and _depth(value) > 0:
                # sqlparse closed a nested comment at its first */: carry it to its real end.
                end = _nested_comment_end(text, offset)
                yield T.Comment.Multiline, text[offset:end]
                offset = end
                break
            if token_type in T.Keyword and "\n" in value:
                # sqlparse reads "GO\n5" as one keyword: a line break ends a keyword in T-SQL.
                word = value.split()[0]
                yield token_type, word
                offset += len(word)
                break
            yield token_type, value
            offset += len(value)
        else:
            return


def _depth(comment: str) -> int:
    return comment.count("/*") - comment.count("*/")


def _nested_comment_end(text: str, start: int) -> int:
    """The offset just after the block comment opened at ``start``, counting nested ones."""
    depth, index = 0, start
    while index < len(text):
        pair = text[index : index + 2]
        if pair == "/*":
            depth, index = depth + 1, index + 2
        elif pair == "*/":
            depth, index = depth - 1, index + 2
            if depth == 0:
                return index
        else:
            index += 1
    return len(text)  # unclosed to the end, as SQL Server would report it


def is_comment(token_type: object) -> bool:
    return token_type in T.Comment


def is_marker(token: Token) -> bool:
    return token[0] in T.Name.Placeholder and token[1] == "?"


@functools.lru_cache(maxsize=1024)
def count_markers(text: str) -> int:
    """How many ``?`` parameter markers the text has outside strings, comments and names."""
    return sum(1 for token in tokens(text) if is_marker(token))


@functools.lru_cache(maxsize=1024)
def number_markers(text: str, prefix: str = "@p") -> tuple[str, int]:
    """Replace each ``?`` marker by ``@p1``, ``@p2``, ... in order; return the text and the count."""
    parts: list[str] = []
    count = 0
    for token in tokens(text):
        if is_marker(token):
            count += 1
            parts.append(f"{prefix}{count}")
        else:
            parts.append(token[1])
    return "".join(parts), count


@functools.lru_cache(maxsize=1024)
def strip_comments(text: str) -> str:
    """The text with every comment replaced by one space (line breaks in it kept)."""
    return "".join(
        (" " + "\n" * value.count("\n")) if is_comment(token_type) else value
        for token_type, value in tokens(text)
    )


@functools.lru_cache(maxsize=1024)
def split_statements(text: str) -> tuple[str, ...]:
    """The text's statements: split at ``;`` outside strings and comments, comments removed,
    empty ones dropped."""
    statements: list[str] = []
    current: list[str] = []
    for token_type, value in tokens(text):
        if token_type in T.Punctuation and value == ";":
            statements.append("".join(current))
            current = []
        elif not is_comment(token_type):
            current.append(value)
    statements.append("".join(current))
    return tuple(statement.strip() for statement in statements if statement.strip())


@dataclass(frozen=True)
class Batch:
    text: str
    repeat: int = 1
    first_line: int = 1  # 1-based line number of the batch's first line in the script


def _go_repeat(line: list[Token]) -> int | None:
    """``n`` when the line is a ``GO [n]`` separator (alone on its line, a trailing ``--``
    comment allowed), else None."""
    words = [
        token for token in line if not (token[0] in T.Whitespace or token[0] in T.Comment.Single)
    ]
    go = _GO.match(words[0][1]) if words and words[0][0] in T.Keyword else None
    if go is None:
        return None
    if len(words) == 1:
        return int(go.group(1) or 1)
    if len(words) == 2 and not go.group(1) and words[1][0] in T.Number.Integer:
        return int(words[1][1])
    return None


def split_batches(script: str) -> list[Batch]:
    """Split a script at ``GO`` lines, as sqlcmd and SSMS do: ``GO`` is a client batch separator,
    alone on its line, in any letter case, with an optional repeat count (``GO 5``). A ``GO``
    inside a block comment or a string that spans lines is text. Empty batches are dropped."""
    batches: list[Batch] = []
    batch: list[str] = []
    line: list[Token] = []
    line_number, batch_start = 1, 1

    def flush(repeat: int) -> None:
        text = "".join(batch).strip()
        if text:
            batches.append(Batch(text, repeat, batch_start))

    for token in [*tokens(script), (T.Whitespace.Newline, "\n")]:
        line.append(token)
        if "\n" not in token[1] or token[0] in T.String or token[0] in T.Comment.Multiline:
            continue
        repeat = _go_repeat(line)
        text = "".join(value for _, value in line)
        if repeat is not None:
            flush(repeat)
            batch = []
            batch_start = line_number + 1
        else:
            if not "".join(batch).strip():
                batch_start = line_number
                batch = []
            batch.append(text)
        line_number += text.count("\n")
        line = []
    flush(1)
    return batches
