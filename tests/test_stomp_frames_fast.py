"""The frame reader's fast checks say what the plain rules say: a regex per escape and a regex
over the header block, kept here as the reference."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mwm_tui.adapters.stomp_frames import (
    _UNESCAPED,
    FrameReader,
    _MalformedError,
    _unescape,
)

_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)
_BAD_BYTE = re.compile(rb"[\x00-\x09\x0b-\x0c\x0e-\x1f\x7f]|\r(?!\n)")


def reference_unescape(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        char = _UNESCAPED.get(match.group(1))
        if char is None:
            raise _MalformedError(f"undefined escape {match.group(0)!r} in a header")
        return char

    return _ESCAPE.sub(replace, value)


def outcome(unescape: object, value: str) -> tuple[str, str]:
    assert callable(unescape)
    try:
        return "value", unescape(value)
    except _MalformedError as error:
        return "error", str(error)


Piece = TypeVar("Piece", str, bytes)


def every_sequence(pieces: Sequence[Piece], longest: int) -> Iterator[tuple[Piece, ...]]:
    """Every sequence of up to ``longest`` pieces, each piece anywhere, repeats included."""
    for length in range(longest + 1):
        yield from itertools.product(pieces, repeat=length)


# Backslashes, the escape letters and their look-alikes, NUL and a little else.
HEADER_CHARS = "\\cnrtC:\n\r\x00aé"
# The same, densely mixed and longer: a backslash is three times as likely as another char.
header_text = st.text(alphabet=st.sampled_from(list("\\\\" + HEADER_CHARS)), max_size=24)


def test_unescape_is_the_regex_reading_for_every_short_header() -> None:
    for pieces in every_sequence(HEADER_CHARS, 4):
        value = "".join(pieces)
        assert outcome(_unescape, value) == outcome(reference_unescape, value), repr(value)


@settings(max_examples=500, deadline=None)
@given(header_text)
def test_unescape_is_the_regex_reading(value: str) -> None:
    assert outcome(_unescape, value) == outcome(reference_unescape, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ID\\cmwm-host-1\\c1\\c42", "ID:mwm-host-1:1:42"),
        ("a\\\\cb", "a\\cb"),
        ("\\\\\\c", "\\:"),
        ("tab\\n\\r", "tab\n\r"),
        ("plain", "plain"),
    ],
)
def test_unescape_examples(value: str, expected: str) -> None:
    assert _unescape(value) == expected


@pytest.mark.parametrize("value", ["\\t", "a\\", "\\\\\\", "ok\\c\\x"])
def test_undefined_escape_is_refused_naming_the_first(value: str) -> None:
    with pytest.raises(_MalformedError) as caught:
        _unescape(value)
    assert str(caught.value) == outcome(reference_unescape, value)[1]


def reference_problem(preamble: bytes) -> str | None:
    bad = _BAD_BYTE.search(preamble)
    return None if bad is None else f"control character 0x{bad.group(0)[0]:02X} in the headers"


# Plain bytes, a separator, the line ends, controls the check must name, and a UTF-8 letter.
PREAMBLE_PIECES = [b"a", b":", b"\n", b"\r", b"\x7f", b"\x00", b"\t", b"\x1f", b"\xc3\xa9"]


def test_preamble_check_is_the_regex_reading_for_every_short_block() -> None:
    for pieces in every_sequence(PREAMBLE_PIECES, 5):
        preamble = b"".join(pieces)
        assert FrameReader._preamble_problem(preamble) == reference_problem(preamble), preamble


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=40) | st.lists(st.sampled_from(PREAMBLE_PIECES), max_size=30).map(b"".join)
)
def test_preamble_check_is_the_regex_reading(preamble: bytes) -> None:
    assert FrameReader._preamble_problem(preamble) == reference_problem(preamble)
