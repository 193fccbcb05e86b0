"""``mwm-tui replay``: a record file played back in the dashboard."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from mwm_tui.adapters.overlay_file import load_overlays
from mwm_tui.adapters.recording import RecordError
from mwm_tui.adapters.replay import SPEEDS
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.commands.records import RECORD_FILES_HELP, load_records, skipped_lines
from mwm_tui.commands.terminal import NO_TERMINAL, has_terminal
from mwm_tui.config import ConfigError, Settings, load_settings
from mwm_tui.domain.overlay import OverlayError


def replay_parser() -> argparse.ArgumentParser:
    parse = TeachingParser(
        prog="mwm-tui replay",
        description="Play a record file (mwm-tui --record FILE) back in the dashboard: the list,\n"
        "map, motion and log as they were. Nothing is sent to any broker.",
        epilog="keys: Space pauses, . steps a message, , steps a second, ] and [ change the\n"
        "speed (x1 to x60), J jumps to a time; ? shows them all.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("files", nargs="+", metavar="FILE", help=RECORD_FILES_HELP)
    parse.add_argument("--speed", type=int, choices=SPEEDS, default=1, help="start at this speed")
    parse.add_argument("--paused", action="store_true", help="start paused at the first record")
    parse.add_argument(
        "--stale-after", type=float, metavar="SEC", help="as for mwm-tui [default: 15]"
    )
    parse.add_argument(
        "--offline-after", type=float, metavar="SEC", help="as for mwm-tui [default: 120]"
    )
    parse.add_argument(
        "--ascii", action="store_const", const=True, help="draw with ASCII characters only"
    )
    parse.add_argument(
        "--overlay",
        metavar="FILE",
        action="append",
        help="draw this GeoJSON file's depots, zones and routes on the map, and log its "
        "geofences' crossings as they happen in the replay (repeatable; as for mwm-tui)",
    )
    return parse


def replay_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The replay's options over the environment and the config file; raises ConfigError,
    for an overlay file that cannot be used too."""
    settings = load_settings(
        {
            "stale_after": args.stale_after,
            "offline_after": args.offline_after,
            "ascii": args.ascii,
            "overlay": ",".join(args.overlay) if args.overlay else None,
        },
        environ,
    )
    try:
        load_overlays(settings.overlay_files())
    except OverlayError as error:
        raise ConfigError(f"overlay {error}") from None
    return settings


def replay_main(argv: Sequence[str]) -> int:
    args = replay_parser().parse_args(argv)
    try:
        settings = replay_settings(args, os.environ)
        reader = load_records(args.files, "replay")
    except (ConfigError, RecordError) as error:
        print(f"mwm-tui replay: error: {error}", file=sys.stderr)
        return 2
    if (note := skipped_lines(reader)) is not None:
        print(f"mwm-tui replay: warning: {note}", file=sys.stderr)
    if not has_terminal():
        print(f"mwm-tui replay: error: {NO_TERMINAL}", file=sys.stderr)
        return 2
    # The UI is loaded only now: help, a bad file or no terminal answer at once.
    from mwm_tui.composition import create_replay_app  # noqa: PLC0415

    try:
        app = create_replay_app(settings, [Path(f) for f in args.files], reader)
    except OverlayError as error:
        print(f"mwm-tui replay: error: overlay {error}", file=sys.stderr)
        return 2
    app.player.clock.set_speed(args.speed)
    app.player.start_paused = args.paused
    app.run()
    return 0
