"""The completion scripts at work in real zsh and fish: what a person gets on Tab."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (typed before Tab, the command line Tab makes of it)
TYPED = [
    ("mwm-tui his", "history"),
    ("mwm-tui history --ki", "history --kind"),
    ("mwm-tui history --kind wi", "history --kind will"),
    ("mwm-tui export --format cs", "export --format csv"),
    ("mwm-tui completion fi", "completion fish"),
    ("mwm-tui --stomp-v", "--stomp-vhost"),
]


def _script(shell: str, directory: Path) -> Path:
    made = subprocess.run(
        [sys.executable, "-m", "mwm_tui.cli", "completion", shell],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    path = directory / f"mwm-tui.{shell}"
    path.write_text(made.stdout)
    return path


class Zsh:
    """An interactive zsh on a pseudo-terminal, with compinit and the script loaded; mwm-tui
    is a function there that prints the arguments Tab completed."""

    def __init__(self, script: Path, home: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: nothing of the test's own environment
            env = {
                "TERM": "xterm",
                "HOME": str(home),
                "ZDOTDIR": str(home),
                "PATH": "/usr/bin:/bin",
            }
            os.execvpe("zsh", ["zsh", "-f", "-i"], env)
        self.output = b""
        self.send(
            f"autoload -Uz compinit && compinit -u -D && source {script} && "
            'mwm-tui() { print -r -- "ARGS<$*>" } && print READY\n'
        )
        assert self.read_until(b"READY\r\n"), self.output[-500:]

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while marker not in self.output and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.fd, 4096)
                except OSError:
                    break
        return marker in self.output

    def complete(self, typed: str) -> str:
        """The arguments of the command line that ``typed`` and Tab make, once run."""
        self.output = b""
        self.send(typed + "\t")
        time.sleep(0.3)  # the completion is drawn before Enter runs the line
        self.send("\n")
        assert self.read_until(b">\r\n"), self.output[-500:]
        start = self.output.rindex(b"ARGS<") + len(b"ARGS<")
        return self.output[start : self.output.index(b">\r\n", start)].decode()

    def close(self) -> None:
        self.send("exit\n")
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_zsh_completes_commands_options_and_choices(
    tmp_path: Path, completion_shells: None
) -> None:
    shell = Zsh(_script("zsh", tmp_path), tmp_path)
    try:
        done = [(typed, shell.complete(typed)) for typed, _ in TYPED]
    finally:
        shell.close()
    assert done == TYPED


def test_fish_completes_commands_options_and_choices(
    tmp_path: Path, completion_shells: None
) -> None:
    script = _script("fish", tmp_path)
    probes = "; ".join(f"complete -C '{typed}'" for typed, _ in TYPED)
    asked = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; {probes}"],
        capture_output=True,
        text=True,
        check=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    offered = [line.split("\t")[0] for line in asked.stdout.splitlines()]
    for typed, completed in TYPED:
        assert completed.split()[-1] in offered, (typed, offered)
    assert "history\twhat HQ recorded" in asked.stdout


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_each_script_is_valid_for_its_shell(
    tmp_path: Path, shell: str, completion_shells: None
) -> None:
    subprocess.run([shell, "-n", str(_script(shell, tmp_path))], check=True)
