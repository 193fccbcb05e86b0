"""``mwm-tui``: the command line, each subcommand loaded only when it runs."""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Commands imported where they run: ``history`` and ``export`` never load the UI,
# and the dashboard itself never loads aiohttp.
# ruff: noqa: PLC0415


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = arguments[:1]
    if command == ["history"]:
        from mwm_tui.commands.history import history_main

        return history_main(arguments[1:])
    if command == ["serve"]:
        from mwm_tui.commands.serve import serve_main

        return serve_main(arguments[1:])
    if command == ["users"]:
        from mwm_tui.commands.users import users_main

        return users_main(arguments[1:])
    if command == ["replay"]:
        from mwm_tui.commands.replay import replay_main

        return replay_main(arguments[1:])
    if command == ["brokers"]:
        from mwm_tui.commands.brokers import brokers_main

        return brokers_main(arguments[1:])
    if command == ["export"]:
        from mwm_tui.commands.export import export_main

        return export_main(arguments[1:])
    from mwm_tui.commands.dashboard import dashboard_main

    return dashboard_main(arguments)


if __name__ == "__main__":
    sys.exit(main())
