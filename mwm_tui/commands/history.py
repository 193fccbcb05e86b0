"""``mwm-tui history``: what HQ recorded, read from another process's outbox."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime

from mwm_tui.adapters.store import HistoryQuery, StoreError, read_history
from mwm_tui.commands.history_groups import Line, Sightings, fold_sightings
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.commands.time_args import TIME_HELP, parse_since
from mwm_tui.config import ConfigError, data_path, load_settings
from mwm_tui.domain.text import literal

# What a history line may tell; ``--kind`` picks among them.
KINDS = ("order", "alert", "status", "will", "link", "geofence", "claim", "note", "ack")


def history_parser() -> argparse.ArgumentParser:
    parse = TeachingParser(
        prog="mwm-tui history",
        description="Print what HQ recorded: orders and alerts with their outcomes, status\n"
        "transitions, last wills, link changes, geofence crossings, and the team's claims,\n"
        "notes and acknowledgements of trucks, oldest first. The trucks a start first heard\n"
        'of make one line (first heard: 200 trucks ...); with --json, its "devices" list\n'
        "holds each truck's own time and text.",
        epilog=TIME_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--device", metavar="ID", help="only this device")
    parse.add_argument("--by", metavar="NAME", help="only what this dispatcher did")
    parse.add_argument(
        "--kind",
        metavar="KIND",
        action="append",
        choices=KINDS,
        help=f"only lines of this kind ({', '.join(KINDS)}); repeatable",
    )
    parse.add_argument("--since", metavar="TIME", help="only from this time on")
    parse.add_argument("--until", metavar="TIME", help="only before this time")
    parse.add_argument("--json", action="store_true", help="one JSON object a line")
    parse.add_argument(
        "--data-dir", metavar="PATH", help="the data directory [default: $XDG_DATA_HOME/mwm-tui]"
    )
    return parse


def _history_line(line: Line) -> str:
    if isinstance(line, Sightings):
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.at))
        trucks = f"{len(line.entries)} trucks"
        return f"{at}  {'status':<8}  {'-':<12}  {trucks:<24}  {literal(line.summary())}"
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.at))
    device = literal(line.device_id or "-", 24)
    by = literal(line.by or "-", 12)
    return f"{at}  {line.kind:<8}  {by:<12}  {device:<24}  {literal(line.text)}"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at).astimezone().isoformat()


def _json_line(line: Line) -> dict[str, object]:
    """One object a line; a folded line keeps each truck's own time and text in ``devices``."""
    if isinstance(line, Sightings):
        return {
            "at": _iso(line.at),
            "kind": "status",
            "by": None,
            "device": None,
            "text": line.summary(),
            "dispatch": None,
            "devices": [
                {"device": entry.device_id, "at": _iso(entry.at), "text": entry.text}
                for entry in line.entries
            ],
        }
    return {
        "at": _iso(line.at),
        "kind": line.kind,
        "by": line.by,
        "device": line.device_id,
        "text": line.text,
        "dispatch": line.dispatch_id,
    }


def history_main(argv: Sequence[str]) -> int:
    args = history_parser().parse_args(argv)
    try:
        settings = load_settings({"data_dir": args.data_dir}, os.environ)
        now = time.time()
        query = HistoryQuery(
            device_id=args.device,
            since=parse_since(args.since, now) if args.since else None,
            until=parse_since(args.until, now, "--until") if args.until else None,
            by=args.by,
            kinds=tuple(args.kind) if args.kind else None,
        )
        entries = read_history(data_path(settings), query)
    except (ConfigError, StoreError) as error:
        print(f"mwm-tui history: error: {error}", file=sys.stderr)
        return 2
    for line in fold_sightings(entries):
        if args.json:
            print(json.dumps(_json_line(line), ensure_ascii=False))
        else:
            print(_history_line(line))
    if not entries and not args.json:
        print("(nothing recorded for this selection)", file=sys.stderr)
    return 0
