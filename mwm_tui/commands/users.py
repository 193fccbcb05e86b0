"""``mwm-tui users add NAME``: who may log in to ``mwm-tui serve``, with a password."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mwm_tui.adapters.users_file import UsersFileError, store_user
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.config import ConfigError, config_path, load_settings
from mwm_tui.domain.passwords import NAME_RULE, hash_password, password_problem, valid_name

PROG = "mwm-tui users"

_EPILOG = f"""\
The password is asked for twice without echo on a terminal; otherwise the first line of
standard input is the password (printf '%s\\n' "$PW" | mwm-tui users add alice --users FILE).
The file keeps one NAME:scrypt$... line per person; it is written 0600, and adding a name
that is there already changes its password.
--users is also MWM_SERVE_USERS or serve_users in {config_path()}.

examples:
  mwm-tui users add alice --users ~/.config/mwm-tui/users
  mwm-tui serve --users ~/.config/mwm-tui/users --stomp stomp://hq@broker:61613 ...
"""


class PasswordError(Exception):
    """No usable password was given."""


def users_parser() -> argparse.ArgumentParser:
    parse = TeachingParser(
        prog=PROG,
        description="Manage the people who may log in to mwm-tui serve.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parse.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add a person, or set their password anew",
        description="Add NAME to the users file of mwm-tui serve, or give NAME a new password: "
        "asked twice without echo on a terminal, else the first line of standard input.",
    )
    add.add_argument("name", metavar="NAME", help=f"their login and dispatcher name: {NAME_RULE}")
    add.add_argument(
        "--users",
        dest="serve_users",
        metavar="FILE",
        help="the users file mwm-tui serve --users reads (created if missing)",
    )
    return parse


def read_password(name: str) -> str:
    """The password: asked twice on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("the same again: ") != first:
            raise PasswordError("the two passwords differ")
        password = first
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    problem = password_problem(password)
    if problem:
        raise PasswordError(problem)
    return password


def users_main(argv: Sequence[str]) -> int:
    args = users_parser().parse_args(argv)
    try:
        settings = load_settings({"serve_users": args.serve_users}, os.environ)
        if not settings.serve_users:
            raise ConfigError("which file? give --users FILE (or MWM_SERVE_USERS)")
        if not valid_name(args.name):
            raise ConfigError(f"{args.name!r}: a name is {NAME_RULE}")
        path = Path(settings.serve_users).expanduser()
        added = store_user(path, args.name, hash_password(read_password(args.name)))
    except (ConfigError, UsersFileError, PasswordError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(f"{PROG}: {args.name} {'added to' if added else 'has a new password in'} {path}")
    return 0
