"""Why the dashboard could not start, shown where the operator looks: a tab has no stderr."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static


class StartupNotice(App[None]):
    """One message and a way out; nothing else runs."""

    CSS = """
    Screen { align: center middle; }
    #notice { width: auto; max-width: 90%; padding: 1 2; border: heavy $error; }
    """
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("escape", "quit", "Quit", show=False)]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        yield Static(f"{self.message}\n\nq closes this dashboard", id="notice", markup=False)
