"""``mwm-tui config``: the settings in effect and where each came from; passwords as ***."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import fields

from mwm_tui.commands.options import add_dashboard_options
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.config import (
    ConfigError,
    Settings,
    config_path,
    is_secret,
    load_settings,
    setting_sources,
)
from mwm_tui.domain.text import literal


def config_parser() -> argparse.ArgumentParser:
    parse = TeachingParser(
        prog="mwm-tui config",
        description="Print every setting the dashboard would use with these options, and where\n"
        "each came from: default, the config file, an MWM_* variable or a flag.\n"
        "Passwords are shown as *** (or - when unset).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dashboard_options(parse)
    return parse


def _shown(name: str, value: object) -> str:
    if value is None:
        return "-"
    if is_secret(name):
        return "***"
    if isinstance(value, bool):
        return "true" if value else "false"
    return literal(str(value))


def config_lines(settings: Settings, sources: dict[str, str]) -> list[str]:
    """A table: setting, value, source; a line each, in the order Settings declares them."""
    rows = [
        (f.name, _shown(f.name, getattr(settings, f.name)), sources[f.name])
        for f in fields(Settings)
    ]
    width = max(len(name) for name, _, _ in rows) + 2
    value_width = min(max(len(value) for _, value, _ in rows), 40) + 2
    lines = [f"{'setting':<{width}}{'value':<{value_width}}from"]
    lines += [f"{name:<{width}}{value:<{value_width}}{source}" for name, value, source in rows]
    return lines


def config_main(argv: Sequence[str]) -> int:
    args = config_parser().parse_args(argv)
    if args.overlay:
        args.overlay = ",".join(args.overlay)
    overrides = vars(args)
    try:
        settings = load_settings(overrides, os.environ)
        sources = setting_sources(overrides, os.environ)
    except ConfigError as error:
        print(f"mwm-tui config: error: {error}", file=sys.stderr)
        return 2
    path = config_path(os.environ)
    found = "found" if path.is_file() else "not found"
    print(f"config file: {path} ({found})")
    for line in config_lines(settings, sources):
        print(line)
    return 0
