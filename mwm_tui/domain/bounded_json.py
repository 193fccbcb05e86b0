"""JSON that HQ does not trust (overlay files, record lines): bounded in size and nesting.

``json.loads`` recurses once per level: a line of 100,000 ``[`` raises RecursionError, not a
decoding error. Here the nesting is measured first, without recursion, and every fault is one
``JsonError`` with its line when it has one, for the caller to name its file.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["JsonError", "deep_line", "loads_bounded"]

# A JSON string (escapes and all): its brackets are text, not structure.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# One innermost pair: each pass of it removes one level of nesting everywhere at once.
_INNERMOST = re.compile(r"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}")


class JsonError(ValueError):
    """Why a text is not the JSON HQ takes, and the line it is on (None: the whole text)."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {problem}" if line is not None else problem)
        self.problem = problem
        self.line = line


def loads_bounded(text: str, *, max_chars: int, max_depth: int) -> Any:
    """``json.loads(text)``, or JsonError when it is longer than ``max_chars``, nested deeper
    than ``max_depth`` arrays and objects, or not JSON."""
    if len(text) > max_chars:
        raise JsonError(f"{len(text):,} characters, over the {max_chars:,} allowed")
    if text.count("[") + text.count("{") > max_depth and _deeper_than(text, max_depth):
        raise JsonError(f"nested deeper than {max_depth} levels", deep_line(text, max_depth))
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"at line {error.lineno}, column {error.colno}"
        raise JsonError(f"not JSON: {error.msg} {where}") from None
    except RecursionError:  # cannot happen below the interpreter's limit; a clear line if so
        raise JsonError(f"nested deeper than {max_depth} levels") from None


def _deeper_than(text: str, limit: int) -> bool:
    """True when some bracket is nested more than ``limit`` deep (strings left out)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub('""', text))
    for _ in range(limit):
        fewer = _INNERMOST.sub("", brackets)
        if fewer == brackets:
            break
        brackets = fewer
    return bool(_INNERMOST.search(brackets))  # a pair left after ``limit`` passes is deeper


def deep_line(text: str, limit: int, quotes: str = '"', comment: str = "") -> int | None:
    """The line where ``[``/``{`` nesting first passes ``limit``, strings (between any of
    ``quotes``) and ``comment`` to the end of a line left out; None when it never does. A plain
    scan: for bad or small texts."""
    depth, quote, escaped, in_comment = 0, "", False, False
    for offset, char in enumerate(text):
        if in_comment:
            in_comment = char != "\n"
        elif quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in quotes:
            quote = char
        elif comment and char == comment:
            in_comment = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return text.count("\n", 0, offset) + 1
        elif char in "]}":
            depth -= 1
    return None
