"""Showing text that came from the network exactly as it is, with nothing able to take effect."""

from __future__ import annotations

import unicodedata


def literal(text: str, limit: int | None = None) -> str:
    """Replace control and format characters with visible escapes such as ``\\x1b``.

    Markup safety is the UI's job (it never parses network text as markup); this removes what a
    terminal would act on: ESC, CR, BEL, bidi overrides and the like.
    """
    shown = text if text.isprintable() else "".join(_visible(char) for char in text)
    if limit is not None and len(shown) > limit:
        return shown[: max(limit - 1, 0)] + "…"
    return shown


def _visible(char: str) -> str:
    if char.isprintable() or char == " ":
        return char
    if unicodedata.category(char).startswith("Z"):
        return " "
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
