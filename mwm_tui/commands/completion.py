"""``mwm-tui completion bash|zsh|fish``: a completion script made from the parsers themselves,
so every command, option and choice it offers is one the program takes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.commands.registry import COMMANDS, DASHBOARD

SHELLS = ("bash", "zsh", "fish")
_INSTALL = """\
bash: eval "$(mwm-tui completion bash)"   (in ~/.bashrc)
zsh:  mwm-tui completion zsh > ~/.zfunc/_mwm-tui   (with fpath+=~/.zfunc before compinit)
fish: mwm-tui completion fish > ~/.config/fish/completions/mwm-tui.fish
"""


def completion_parser() -> argparse.ArgumentParser:
    parse = TeachingParser(
        prog="mwm-tui completion",
        description="Print a script that completes mwm-tui's commands, options and their\n"
        "choices in this shell.",
        epilog=_INSTALL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("shell", choices=SHELLS, help="the shell the script is for")
    return parse


@dataclass(frozen=True)
class Option:
    names: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...]


@dataclass(frozen=True)
class CommandOptions:
    name: str  # "" for the dashboard
    summary: str
    options: tuple[Option, ...]


def command_options() -> list[CommandOptions]:
    """Each command's options, as its parser declares them; the dashboard's first."""
    found = []
    for command in (DASHBOARD, *COMMANDS):
        parse = command.make_parser()
        options = tuple(
            Option(
                tuple(action.option_strings),
                " ".join((action.help or "").split()),
                action.nargs != 0,
                tuple(str(choice) for choice in action.choices or ()),
            )
            for action in parse._actions  # argparse keeps no public list of them
            if action.option_strings and action.help != argparse.SUPPRESS
        )
        found.append(CommandOptions(command.name, command.summary, options))
    return found


def _words(options: Sequence[Option]) -> str:
    return " ".join(name for option in options for name in option.names)


def _valued(options: Sequence[Option]) -> list[Option]:
    return [option for option in options if option.takes_value]


def bash_script(commands: Sequence[CommandOptions]) -> str:
    names = " ".join(command.name for command in commands if command.name)
    values, files, words = [], [], []
    for command in commands:
        for option in _valued(command.options):
            pattern = "|".join(f"{command.name}:{name}" for name in option.names)
            if option.choices:
                choices = " ".join(option.choices)
                values.append(
                    f'        {pattern}) COMPREPLY=($(compgen -W "{choices}" -- "$cur")) ;;'
                )
            else:
                files.append(pattern)
        label = command.name or '""'
        words.append(f'        {label}) words="{_words(command.options)}" ;;')
    values.append(f'        {"|".join(files)}) COMPREPLY=($(compgen -f -- "$cur")) ;;')
    return f"""\
# bash completion for mwm-tui; made by `mwm-tui completion bash` from its parsers
_mwm_tui() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local command="" words
    case "${{COMP_WORDS[1]}}" in
        {"|".join(names.split())}) (( COMP_CWORD > 1 )) && command="${{COMP_WORDS[1]}}" ;;
    esac
    case "$command:$prev" in
{chr(10).join(values)}
        *)
            case "$command" in
{chr(10).join(words)}
            esac
            if [[ -z "$command" && COMP_CWORD -eq 1 && "$cur" != -* ]]; then
                COMPREPLY=($(compgen -W "{names}" -- "$cur"))
            elif [[ "$command" == completion && "$cur" != -* ]]; then
                COMPREPLY=($(compgen -W "{" ".join(SHELLS)}" -- "$cur"))
            elif [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$words" -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            ;;
    esac
}}
complete -o filenames -F _mwm_tui mwm-tui
"""


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def zsh_script(commands: Sequence[CommandOptions]) -> str:
    named = [command for command in commands if command.name]
    values, files, words = [], [], []
    for command in commands:
        for option in _valued(command.options):
            pattern = "|".join(f"{command.name}:{name}" for name in option.names)
            if option.choices:
                values.append(
                    f"        ({pattern}) compadd -- {' '.join(option.choices)}; return ;;"
                )
            else:
                files.append(pattern)
        label = command.name or "''"
        words.append(f"        ({label}) compadd -- {_words(command.options)} ;;")
    values.append(f"        ({'|'.join(files)}) _files; return ;;")
    alternatives = "|".join(command.name for command in named)
    described = " ".join(
        _zsh_quote(f"{command.name}:{command.summary.replace(':', ' -')}") for command in named
    )
    return f"""\
#compdef mwm-tui
# zsh completion for mwm-tui; made by `mwm-tui completion zsh` from its parsers
_mwm_tui() {{
    local command=""
    case ${{words[2]}} in
        ({alternatives}) (( CURRENT > 2 )) && command=${{words[2]}} ;;
    esac
    case "$command:${{words[CURRENT-1]}}" in
{chr(10).join(values)}
    esac
    if [[ -z $command && $CURRENT -eq 2 && ${{words[CURRENT]}} != -* ]]; then
        local -a commands=({described})
        _describe command commands
        return
    fi
    if [[ $command == completion && ${{words[CURRENT]}} != -* ]]; then
        compadd -- {" ".join(SHELLS)}
        return
    fi
    if [[ ${{words[CURRENT]}} == -* ]]; then
        case $command in
{chr(10).join(words)}
        esac
    else
        _files
    fi
}}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _mwm_tui "$@"
else
    compdef _mwm_tui mwm-tui
fi
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_script(commands: Sequence[CommandOptions]) -> str:
    named = [command.name for command in commands if command.name]
    lines = [
        "# fish completion for mwm-tui; made by `mwm-tui completion fish` from its parsers",
        "complete -c mwm-tui -e",
    ]
    for command in commands:
        if command.name:
            condition = f"__fish_seen_subcommand_from {command.name}"
            lines.append(
                f"complete -c mwm-tui -f -n '__fish_use_subcommand' -a {command.name} "
                f"-d {_fish_quote(command.summary)}"
            )
        else:
            condition = f"not __fish_seen_subcommand_from {' '.join(named)}"
        for option in command.options:
            flags = " ".join(
                f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}"
                for name in option.names
            )
            value = ""
            if option.takes_value:
                value = (
                    f" -x -a {_fish_quote(' '.join(option.choices))}"
                    if option.choices
                    else " -r -F"
                )
            lines.append(
                f"complete -c mwm-tui -n {_fish_quote(condition)} {flags}{value} "
                f"-d {_fish_quote(option.help[:80])}"
            )
    lines.append(
        "complete -c mwm-tui -f -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'"
    )
    return "\n".join(lines) + "\n"


SCRIPTS = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}


def completion_main(argv: Sequence[str]) -> int:
    args = completion_parser().parse_args(argv)
    sys.stdout.write(SCRIPTS[args.shell](command_options()))
    return 0
