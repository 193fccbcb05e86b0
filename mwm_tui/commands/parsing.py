"""An argument parser whose mistakes cost one line, naming the nearest option or choice."""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn

from mwm_tui.commands.registry import COMMANDS, nearest

_UNRECOGNIZED = re.compile(r"^unrecognized arguments: (.+)$")
_INVALID_CHOICE = re.compile(r"^argument (\S+): invalid choice: '?([^']*?)'? \(choose from (.*)\)$")


class TeachingParser(argparse.ArgumentParser):
    """``error`` prints ``PROG: unknown option '--stmop'; did you mean '--stomp'?`` and exits 2,
    instead of the whole usage; other mistakes get one line and where the help is.
    ``names_commands``: a stray word is a mistyped command (``mwm-tui hisotry``)."""

    def __init__(self, *args: Any, names_commands: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.names_commands = names_commands

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {self.explain(message)}\n")

    def explain(self, message: str) -> str:
        unrecognized = _UNRECOGNIZED.match(message)
        if unrecognized:
            return self._unknown(unrecognized.group(1).split()[0])
        choice = _INVALID_CHOICE.match(message)
        if choice:
            option, given, listed = choice.groups()
            choices = re.findall(r"'([^']*)'", listed) or [c.strip() for c in listed.split(",")]
            return f"{option}: unknown value '{given}'{_meant(given, choices, listed)}"
        return f"error: {message} (see {self.prog} --help)"

    def _unknown(self, word: str) -> str:
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            return f"unknown option '{name}'{_meant(name, self._option_names(), None)}"
        if self.names_commands:
            names = [command.name for command in COMMANDS]
            listed = ", ".join(names)
            return f"unknown command '{word}'{_meant(word, names, listed)}"
        return f"unexpected argument '{word}' (see {self.prog} --help)"

    def _option_names(self) -> list[str]:
        return [name for action in self._actions for name in action.option_strings]


def _meant(word: str, choices: list[str], listed: str | None) -> str:
    guess = nearest(word, choices)
    if guess is not None:
        return f"; did you mean '{guess}'?"
    return f" (one of: {listed})" if listed else ""
