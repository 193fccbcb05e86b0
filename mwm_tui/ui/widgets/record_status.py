"""One line while ``--record`` runs: the file, records written, and any dropped or failure."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mwm_tui.adapters.recording import Recorder
from mwm_tui.domain.text import literal

# Characters of the record file's path shown; a longer one keeps its end (the file's name).
_PATH_SHOWN = 50


class RecordStatus(Static):
    DEFAULT_CSS = """
    RecordStatus {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(id="record-status")
        self.recorder = recorder
        self._dropped_told = 0
        self._error_told: str | None = None

    def on_mount(self) -> None:
        self.set_interval(1.0, self.check)
        self.check()

    def line(self) -> Text:
        recorder = self.recorder
        text = Text("REC ", style="bold red")
        where = literal(str(recorder.path))
        text.append(where if len(where) <= _PATH_SHOWN else "…" + where[1 - _PATH_SHOWN :])
        text.append(f"  {recorder.written:,} records", style="dim")
        if recorder.dropped:
            text.append(f"  {recorder.dropped:,} dropped (writer behind)", style="bold yellow")
        if recorder.error:
            text.append(f"  {literal(recorder.error, 80)}", style="bold red")
        return text

    def check(self) -> None:
        """Redraw; say in the event log when records were dropped or writing failed."""
        self.update(self.line())
        recorder = self.recorder
        log = getattr(self.app, "event_log", None)
        if log is None:
            return
        if recorder.dropped > self._dropped_told:
            lost = recorder.dropped - self._dropped_told
            self._dropped_told = recorder.dropped
            log.add(f"record: {lost:,} records dropped, the writer is behind", "yellow")
        if recorder.error and recorder.error != self._error_told:
            self._error_told = recorder.error
            log.add(f"record: {literal(recorder.error, 200)}", "red")
