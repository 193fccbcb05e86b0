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
from typing import Self

ADDRESS = "10.77.0.1"

_HTTP_PROBE = """
import http.client, json, sys
host, port, method, path, headers, body = json.loads(sys.argv[1])
connection = http.client.HTTPConnection(host, port, timeout=20)
connection.request(method, path, body=body, headers=headers)
response = connection.getresponse()
print(json.dumps([response.status, dict(response.getheaders()), response.read().decode()]))
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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.holder.kill()
        self.holder.communicate(timeout=10)

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
        result = subprocess.run(
            self.command([sys.executable, "-c", _HTTP_PROBE, json.dumps(request)]),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        status, answer_headers, text = json.loads(result.stdout)
        return status, answer_headers, text

    def refuses(self, port: int, host: str) -> bool:
        """True if nothing listens on ``host``:``port`` inside the namespace."""
        probe = (
            "import socket, sys\n"
            "s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)\n"
            "print(s.connect_ex((sys.argv[1], int(sys.argv[2]))))\n"
        )
        result = subprocess.run(
            self.command([sys.executable, "-c", probe, host, str(port)]),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return result.stdout.strip() != "0"
