"""Screens over the dashboard that close once, however many keys arrive to close them.

Keys typed in a burst (a paste, a stalled SSH link catching up) are forwarded to the screen on
top when they arrive: several can reach a screen that already began to close, and a second
dismiss would close the screen beneath it, or fail when none is left.
"""

from __future__ import annotations

from typing import Any, TypeVar

from textual.await_complete import AwaitComplete
from textual.command import CommandPalette
from textual.screen import ModalScreen, Screen

ResultT = TypeVar("ResultT")


def first_close(screen: Screen[Any], closing: bool) -> bool:
    """Whether a dismiss now is the screen's first, while it is still the one on top."""
    return not closing and screen.app.screen is screen


class OnceModal(ModalScreen[ResultT]):
    """A modal screen whose first dismiss counts; later ones do nothing."""

    closing = False

    def dismiss(self, result: ResultT | None = None) -> AwaitComplete:
        if not first_close(self, self.closing):
            return AwaitComplete()
        self.closing = True
        return super().dismiss(result)


class OncePalette(CommandPalette):
    """The command palette, closed once even when Enter and Esc arrive together."""

    closing = False

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if not first_close(self, self.closing):
            return AwaitComplete()
        self.closing = True
        return super().dismiss(result)
