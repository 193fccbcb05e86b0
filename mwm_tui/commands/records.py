"""Record files (``mwm-tui --record FILE``) as the replay and export commands take them."""

from __future__ import annotations

from collections.abc import Sequence

from mwm_tui.adapters.recording import RecordError, RecordReader

RECORD_FILES_HELP = (
    "record file(s): FILE and, for a rotated record, FILE.1.gz ... in any order, plain or "
    "gzip-compressed (FILE* takes them all)"
)
# A compressed copy cut short by a crash; its plain original is still there.
_UNFINISHED = ".gz.partial"


def load_records(files: Sequence[str], what: str) -> RecordReader:
    """The records of ``files`` (but an unfinished compressed copy, whose original is read);
    raises RecordError when one cannot be read or none is usable, naming the first bad line."""
    reader = RecordReader.load([name for name in files if not name.endswith(_UNFINISHED)])
    if not reader.records:
        bad = f" ({reader.bad_lines:,} unreadable lines)" if reader.bad_lines else ""
        first = f"; first: {reader.first_problem}" if reader.first_problem else ""
        raise RecordError(f"nothing to {what} in {', '.join(files)}{bad}{first}")
    return reader


def skipped_lines(reader: RecordReader) -> str | None:
    """One line on the lines left out, naming the first; None when every line was read."""
    if not reader.bad_lines:
        return None
    return f"skipped {reader.bad_lines:,} unreadable line(s), the first: {reader.first_problem}"
