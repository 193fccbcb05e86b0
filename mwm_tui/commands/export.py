"""``mwm-tui export``: the positions in a record file as CSV, GPX or GeoJSON."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mwm_tui.adapters.export import WRITERS, ExportFormat, Fix, Selection, fixes_of
from mwm_tui.adapters.private_file import Existing, open_private
from mwm_tui.adapters.recording import RecordError
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.commands.records import RECORD_FILES_HELP, load_records, skipped_lines
from mwm_tui.commands.time_args import TIME_HELP, parse_since
from mwm_tui.config import ConfigError

PROG = "mwm-tui export"


def export_parser() -> argparse.ArgumentParser:
    parse = TeachingParser(
        prog=PROG,
        description="Write the positions in a record file (mwm-tui --record FILE) as CSV, GPX 1.1\n"
        "(a track a truck) or GeoJSON (a feature a truck, its id in deviceID).\n"
        "Times are when HQ received each fix, in UTC.",
        epilog=TIME_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("files", nargs="+", metavar="FILE", help=RECORD_FILES_HELP)
    parse.add_argument(
        "--format", required=True, choices=[f.value for f in ExportFormat], help="what to write"
    )
    parse.add_argument("--device", metavar="ID", help="only this truck")
    parse.add_argument("--since", metavar="TIME", help="only fixes received from this time on")
    parse.add_argument("--until", metavar="TIME", help="only fixes received up to this time")
    parse.add_argument(
        "-o", "--output", metavar="OUT", help="write here, a new file (0600) [default: stdout]"
    )
    parse.add_argument(
        "--force", action="store_true", help="replace OUT if it exists (never through a link)"
    )
    return parse


def export_summary(fixes: Sequence[Fix], form: str, output: str | None) -> str:
    """``wrote 1,204 fixes of 20 trucks as csv to shift.csv``: what the command did."""
    trucks = len({fix.device_id for fix in fixes})
    where = output if output else "standard output"
    fixes_said = f"{len(fixes):,} fix" + ("" if len(fixes) == 1 else "es")
    trucks_said = f"{trucks:,} truck" + ("" if trucks == 1 else "s")
    return f"wrote {fixes_said} of {trucks_said} as {form} to {where}"


def export_main(argv: Sequence[str]) -> int:
    args = export_parser().parse_args(argv)
    try:
        now = time.time()
        selection = Selection(
            args.device,
            parse_since(args.since, now) if args.since else None,
            parse_since(args.until, now, "--until") if args.until else None,
        )
        reader = load_records(args.files, "export")
        if (note := skipped_lines(reader)) is not None:
            print(f"mwm-tui export: warning: {note}", file=sys.stderr)
        fixes = fixes_of(reader.records, selection)
        text = WRITERS[ExportFormat(args.format)](fixes)
        if args.output:
            write_output(Path(args.output), text, force=args.force)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        print(f"{PROG}: {export_summary(fixes, args.format, args.output)}", file=sys.stderr)
    except (ConfigError, RecordError) as error:
        print(f"mwm-tui export: error: {error}", file=sys.stderr)
        return 2
    except FileExistsError:
        said = f"{args.output} exists: name a new file, or give --force to replace it"
        print(f"mwm-tui export: error: {said}", file=sys.stderr)
        return 2
    except OSError as error:
        said = f"cannot write {args.output}: {error.strerror}"
        print(f"mwm-tui export: error: {said}", file=sys.stderr)
        return 2
    return 0


def write_output(path: Path, text: str, *, force: bool) -> None:
    """``text`` in a new file of the owner's alone; an existing one only with ``force``."""
    descriptor = open_private(path, Existing.REPLACE if force else Existing.REFUSE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
