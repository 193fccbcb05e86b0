"""A real OpenSSH server on a free loopback port, with host and user keys made for the test.

It lets in only the user running the tests, only with the test's key, and dies with the test.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.support.brokers import free_port

SSHD = Path("/usr/sbin/sshd")


class Sshd:
    """``sshd -D`` with a config of its own; ``ssh_command()`` logs into it with the test's key."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.host_key = workdir / "host_ed25519"
        self.user_key = workdir / "user_ed25519"
        self.config = workdir / "sshd_config"
        self.log = workdir / "sshd.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Sshd:
        if not SSHD.is_file() or shutil.which("ssh-keygen") is None:
            raise RuntimeError("openssh-server is not installed: run `make bootstrap`")
        for key in (self.host_key, self.user_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                check=True,
                capture_output=True,
            )
        authorized = self.workdir / "authorized_keys"
        authorized.write_text(self.user_key.with_suffix(".pub").read_text())
        authorized.chmod(0o600)
        root = os.geteuid() == 0
        self.config.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"Port {self.port}",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {authorized}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    f"AllowUsers {getpass.getuser()}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    f"PermitRootLogin {'prohibit-password' if root else 'no'}",
                    "AcceptEnv LANG LC_*",
                    "",
                ]
            )
        )
        if root:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation dir
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_for_banner(15)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_for_banner(self, timeout: float) -> None:
        """Ready when the port answers with an SSH version line, not after a sleep."""
        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                    if connection.recv(64).startswith(b"SSH-2.0-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd not answering on {self.port} after {timeout} s")
            time.sleep(0.05)

    def ssh_command(self, remote: str) -> str:
        """A shell command that runs ``remote`` on this server in a terminal, as a person would."""
        options = [
            "-tt",
            f"-p {self.port}",
            f"-i {self.user_key}",
            "-o IdentitiesOnly=yes",
            "-o StrictHostKeyChecking=no",
            "-o UserKnownHostsFile=/dev/null",
            "-o LogLevel=ERROR",
            "-o SendEnv=LANG",
        ]
        return f"ssh {' '.join(options)} {getpass.getuser()}@127.0.0.1 {remote}"

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(10)
