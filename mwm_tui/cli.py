"""``mwm-tui``: the command line, each subcommand loaded only when it runs."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from mwm_tui.commands.registry import COMMANDS, DASHBOARD, command_named, nearest

# Exit status of a command whose reader went away (``mwm-tui history | head``), as a shell
# reports a tool that SIGPIPE ended.
BROKEN_PIPE = 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    first = arguments[0] if arguments else "-"
    command = command_named(first)
    if command is None and not first.startswith("-"):
        names = [known.name for known in COMMANDS]
        guess = nearest(first, names)
        hint = f"; did you mean '{guess}'?" if guess else f" (commands: {', '.join(names)})"
        print(f"mwm-tui: unknown command '{first}'{hint}", file=sys.stderr)
        return 2
    run = (command or DASHBOARD).runner()
    try:
        status = run(arguments[1:] if command else arguments)
        sys.stdout.flush()
    except BrokenPipeError:
        # Quietly, as other tools end: nothing more can reach the reader.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    return status


if __name__ == "__main__":
    sys.exit(main())
