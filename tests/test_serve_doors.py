"""``mwm-tui serve`` on an address other machines reach, in a network namespace of the test's own
(``tests/support/netns.py``): what it asks for first, and the Host and Origin it answers.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.brokers import free_port
from tests.support.browser import ServeProcess, mwm_tui_command
from tests.support.cli import RunCli
from tests.support.netns import NetNamespace


def clean_environment(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MWM_")}
    env["MWM_CONFIG"] = os.devnull
    return env | extra


@pytest.fixture
def netns() -> NetNamespace:
    with NetNamespace() as namespace:
        yield namespace


@pytest.fixture
def users(tmp_path: Path, cli: RunCli) -> Path:
    path = tmp_path / "users"
    added = cli("users", "add", "alice", "--users", str(path), stdin="correct horse\n")
    assert added.returncode == 0, added
    return path


def run_serve(netns: NetNamespace, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        netns.command(mwm_tui_command("serve", "--demo", *arguments)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=30,
        check=False,
    )


def test_an_address_others_reach_needs_public_then_users_then_url(
    netns: NetNamespace, users: Path
) -> None:
    port = str(free_port())
    address = netns.address
    steps = [
        (["--host", address], f"--host {address} can be reached from other machines; add "),
        (["--host", address, "--public"], "it needs a login, --users FILE"),
        (["--host", "0.0.0.0", "--public"], "it needs a login, --users FILE"),
        (["--host", address, "--public", "--users", str(users)], "give --url, the address"),
        (["--host", address, "--public", "--users", str(users), "--url", "hq"], "--url hq: give"),
    ]
    for arguments, says in steps:
        result = run_serve(netns, "--port", port, *arguments)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
        assert netns.refuses(int(port), address)


def test_a_public_server_answers_only_requests_naming_its_url(
    tmp_path: Path, netns: NetNamespace, users: Path
) -> None:
    port = free_port()
    url = f"http://{netns.address}:{port}"
    arguments = ("--demo", "--host", netns.address, "--public", "--users", str(users))
    with ServeProcess(
        tmp_path, port, *arguments, "--url", url, env=clean_environment(), prefix=netns.command([])
    ) as server:
        server.wait_listening()
        warning = server.stderr_path.read_text()
        host = f"{netns.address}:{port}"
        upgrade = {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        }
        assert netns.http(port, "/login", {"Host": host})[0] == 200
        assert netns.http(port, "/login", {"Host": host, "Origin": url})[0] == 200
        status, headers, _ = netns.http(port, "/", {"Host": host, "Origin": url})
        assert (status, headers["Location"]) == (303, "/login")
        # A name rebound to this address, a loopback name, another page: all refused.
        for forged in (
            {"Host": f"rebound.example:{port}"},
            {"Host": f"localhost:{port}"},
            {"Host": f"127.0.0.1:{port}"},
            {"Host": f"{netns.address}:{port + 1}"},
            {"Host": host, "Origin": "https://evil.example"},
            {"Host": host, "Origin": f"http://rebound.example:{port}"},
            {"Host": host, "Origin": "null"},
        ):
            assert netns.http(port, "/", forged)[0] == 403, forged
            assert netns.http(port, "/ws", forged | upgrade)[0] == 403, forged
            assert netns.http(port, "/login", forged)[0] == 403, forged
            status = netns.http(
                port, "/login", forged, method="POST", body="name=alice&password=correct+horse"
            )[0]
            assert status == 403, forged
        # The right Host and Origin reach the socket, which still wants a session first.
        assert netns.http(port, "/ws", {"Host": host, "Origin": url} | upgrade)[0] == 401
        assert server.tabs() == []
        assert server.stop() == 0
    assert f"listening on {netns.address} port {port}" in warning
    assert f"for browsers at {url}" in warning and "TLS" in warning
    assert len(warning.splitlines()) <= 5
    assert "Traceback" not in server.output


@pytest.mark.parametrize("how", ["variable", "option"])
def test_an_empty_host_listens_on_loopback_only(
    tmp_path: Path, netns: NetNamespace, how: str
) -> None:
    port = free_port()
    env = clean_environment(MWM_SERVE_HOST="") if how == "variable" else clean_environment()
    arguments = ("--demo",) if how == "variable" else ("--demo", "--host", "")
    with ServeProcess(tmp_path, port, *arguments, env=env, prefix=netns.command([])) as server:
        server.wait_listening()
        assert f"the dashboard is at http://127.0.0.1:{port} " in server.output
        assert not netns.refuses(port, "127.0.0.1")
        assert netns.refuses(port, netns.address)
        assert netns.refuses(port, "::1")
        assert netns.http(port, "/", {"Host": f"127.0.0.1:{port}"}, host="127.0.0.1")[0] == 200
        assert server.stop() == 0
    assert "warning" not in server.output
