"""A network namespace of one test's own, for servers that listen on more than loopback.

``unshare -rn`` makes it (a user namespace too, so it works without root where the kernel
allows, and as root in CI); a ``sleep`` holds it open. Its loopback interface also carries
``ADDRESS`` (10.77.0.1 by default), an address that is not a loopback one, so a server there
is "reachable from other machines" while nothing outside the namespace can reach it.
Commands run inside through ``nsenter`` (which execs them: their pid is the command's).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

ADDRESS = "10.77.0.1"

# One prober per namespace answers every probe, a JSON line in and a JSON line out: a Python
# process for each request cost a test 2 s of CPU.
_PROBER = """
import http.client, json, socket, sys
for line in sys.stdin:
    kind, arguments = json.loads(line)
    if kind == "connect":
        host, port = arguments
        probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        answer = probe.connect_ex((host, port))
        probe.close()
    else:
        host, port, method, path, headers, body = arguments
        connection = http.client.HTTPConnection(host, port, timeout=20)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answer = [response.status, dict(response.getheaders()), response.read().decode()]
        connection.close()
    print(json.dumps(answer), flush=True)
"""


class NetNamespace:
    def __init__(self, address: str = ADDRESS) -> None:
        self.address = address
        setup = f"ip link set lo up && ip addr add {address}/32 dev lo && echo ready"
        self.holder = subprocess.Popen(
            ["unshare", "-rn", "sh", "-c", f"{setup} && exec sleep 3600"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.holder.stdout is not None
        if self.holder.stdout.readline().strip() != "ready":
            self.holder.kill()
            _, error = self.holder.communicate(timeout=10)
            raise AssertionError(f"no network namespace: {error.strip()}")
        self.prober = subprocess.Popen(
            self.command([sys.executable, "-c", _PROBER]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for process in (self.prober, self.holder):
            process.kill()
            process.communicate(timeout=10)

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as run inside the namespace."""
        enter = ["nsenter", "-t", str(self.holder.pid), "-U", "-n", "--preserve-credentials"]
        return [*enter, *argv]

    def http(
        self,
        port: int,
        path: str = "/",
        headers: dict[str, str] | None = None,
        *,
        host: str | None = None,
        method: str = "GET",
        body: str | None = None,
    ) -> tuple[int, dict[str, str], str]:
        """(status, headers, body) of one request sent from inside the namespace."""
        request = [host or self.address, port, method, path, headers or {}, body]
        status, answer_headers, text = self._probe("http", request)
        return status, answer_headers, text

    def refuses(self, port: int, host: str) -> bool:
        """True if nothing listens on ``host``:``port`` inside the namespace."""
        answer: int = self._probe("connect", [host, port])
        return answer != 0

    def _probe(self, kind: str, arguments: list[object]) -> Any:
        """The prober's answer to one probe; its error output if it died of it."""
        assert self.prober.stdin is not None and self.prober.stdout is not None
        self.prober.stdin.write(json.dumps([kind, arguments]) + "\n")
        self.prober.stdin.flush()
        line = self.prober.stdout.readline()
        if not line:
            _, error = self.prober.communicate(timeout=10)
            raise AssertionError(f"the namespace's prober died: {error.strip()}")
        return json.loads(line)
