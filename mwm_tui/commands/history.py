"""``mwm-tui history``: what HQ recorded, read from another process's outbox."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime

from mwm_tui.adapters.store import HistoryEntry, HistoryQuery, StoreError, read_history
from mwm_tui.commands.time_args import TIME_HELP, parse_since
from mwm_tui.config import ConfigError, data_path, load_settings
from mwm_tui.domain.text import literal

# What a history line may tell; ``--kind`` picks among them.
KINDS = ("order", "alert", "status", "will", "link", "geofence", "claim", "note", "ack")


def history_parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="mwm-tui history",
        description="Print what HQ recorded: orders and alerts with their outcomes, status\n"
        "transitions, last wills, link changes, geofence crossings, and the team's claims,\n"
        "notes and acknowledgements of trucks, oldest first.",
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


def _history_line(entry: HistoryEntry) -> str:
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.at))
    device = literal(entry.device_id or "-", 24)
    by = literal(entry.by or "-", 12)
    return f"{at}  {entry.kind:<8}  {by:<12}  {device:<24}  {literal(entry.text)}"


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
    for entry in entries:
        if args.json:
            record = {
                "at": datetime.fromtimestamp(entry.at).astimezone().isoformat(),
                "kind": entry.kind,
                "by": entry.by,
                "device": entry.device_id,
                "text": entry.text,
                "dispatch": entry.dispatch_id,
            }
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(_history_line(entry))
    if not entries and not args.json:
        print("(nothing recorded for this selection)", file=sys.stderr)
    return 0
