"""``mwm-tui serve``'s command line: where it listens, what it refuses, what a tab is given."""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

import pytest

from mwm_tui.commands.serve import (
    DashboardServer,
    Listener,
    browser_environment,
    serve_parser,
    tab_command,
    tab_environment,
)
from mwm_tui.commands.terminal import in_browser
from mwm_tui.config import ConfigError, Settings, load_settings
from tests.support.brokers import free_port
from tests.support.browser import ServeProcess, alive, mwm_tui_command
from tests.support.cli import RunCli


def run_serve(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MWM_")}
    env["MWM_CONFIG"] = os.devnull
    return subprocess.run(
        mwm_tui_command("serve", *arguments),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


def test_a_host_other_machines_reach_is_refused_in_one_line_without_public(
    clean_cli: RunCli,
) -> None:
    port = free_port()
    result = clean_cli("serve", "--host", "0.0.0.0", "--port", str(port), "--demo")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("mwm-tui serve: error: --host 0.0.0.0 ")
    assert "--public" in result.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "it listened all the same"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--host", "no-such-host.invalid"], "--host 'no-such-host.invalid': no such address"),
        (["--host", "192.0.2.1", "--public"], "--host 192.0.2.1: not an address of this machine"),
        (["--port", "70000"], "serve port 70000 is not a TCP port"),
        (["--port", "http"], "argument --port: invalid int value"),
        (["--record", "shift.jsonl"], "--record is for one dashboard"),
    ],
)
def test_a_bad_host_or_port_is_one_line(clean_cli: RunCli, arguments: list[str], says: str) -> None:
    result = clean_cli("serve", *arguments, "--demo")
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].count("error") == 1


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_serve(tmp_path, "--port", str(port), "--demo")
    assert result.returncode == 2
    assert result.stderr == (
        f"mwm-tui serve: error: port {port} on 127.0.0.1 is in use (another program has it); "
        "pick one with --port\n"
    )


def test_help_names_every_serve_option_and_the_dashboards() -> None:
    text = serve_parser().format_help()
    for option in ("--host", "--port", "--public", "--url", "--users", "--max-seats", "--demo"):
        assert option in text
    assert "--stomp" in text and "--cafile" in text
    assert "MWM_SERVE_HOST" in text and "MWM_SERVE_MAX_SEATS" in text and "serve_port" in text
    assert "no login" in text and "mwm-tui users add NAME --users FILE" in text
    main_help = subprocess.run(
        mwm_tui_command("--help"), capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "mwm-tui serve --help" in main_help


def test_serve_settings_come_from_variables_and_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'serve_host = "localhost"\nserve_port = 8123\nserve_users = "/etc/mwm/users"\n'
        "serve_max_seats = 3\n"
    )
    environ = {"MWM_CONFIG": str(config), "MWM_SERVE_PUBLIC": "yes"}
    settings = load_settings({}, environ)
    assert (settings.serve_host, settings.serve_port, settings.serve_public) == (
        "localhost",
        8123,
        True,
    )
    assert (settings.serve_users, settings.serve_max_seats) == ("/etc/mwm/users", 3)
    environ |= {"MWM_SERVE_USERS": "users.txt", "MWM_SERVE_MAX_SEATS": "2"}
    settings = load_settings({}, environ)
    assert (settings.serve_users, settings.serve_max_seats) == ("users.txt", 2)
    assert load_settings({"serve_max_seats": 5}, environ).serve_max_seats == 5
    with pytest.raises(ConfigError, match="max-seats must be at least 1"):
        load_settings({"serve_max_seats": 0}, environ)
    # An empty host is this machine only, never every address.
    assert load_settings({}, environ | {"MWM_SERVE_HOST": ""}).serve_host == "127.0.0.1"
    assert load_settings({"serve_host": "  "}, environ).serve_host == "127.0.0.1"
    assert Settings().serve_host == "127.0.0.1" and Settings().serve_port == 8000
    assert (Settings().serve_users, Settings().serve_max_seats) == (None, 8)


def test_a_tab_gets_every_setting_by_its_environment_and_nothing_on_its_command_line() -> None:
    given = replace(
        Settings(),
        stomp="stomp://hq@a:61613,stomp://hq@b:61613",
        stomp_password="pw-1",
        mqtt_password="pw-2",
        devices=7,
        stale_after=12.5,
        client_id="hq1",
        insecure=True,
        overlay="a.geojson,b.geojson",
        serve_port=9000,
    )
    environ = {
        "PATH": "/usr/bin",
        "MWM_DEVICES": "99",
        "LANG": "C.UTF-8",
        "MWM_SERVE_SEAT": "mallory",  # only the server names a seat, never its own environment
    }
    tab = tab_environment(given, environ)
    assert tab["PATH"] == "/usr/bin"
    assert tab["MWM_CONFIG"] == os.devnull
    assert not any(name.startswith("MWM_SERVE") for name in tab)
    # What the tab's dashboard reads back is what the server was given.
    read_back = load_settings({}, tab)
    for setting in fields(Settings):
        if not setting.name.startswith("serve_"):
            assert getattr(read_back, setting.name) == getattr(given, setting.name), setting.name
    assert shlex.split(tab_command()) == ["exec", sys.executable, "-m", "mwm_tui.cli"]
    # A seat's person travels in its dashboard's environment, set by the server alone.
    assert shlex.split(tab_command("alice")) == [
        "MWM_SERVE_SEAT=alice",
        "exec",
        sys.executable,
        "-m",
        "mwm_tui.cli",
    ]


def test_a_tab_draws_unicode_even_when_the_server_runs_under_the_c_locale(
    tmp_path: Path,
) -> None:
    c_locale = {"LANG": "C", "MWM_CONFIG": os.devnull}
    tab = tab_environment(load_settings({}, browser_environment(c_locale)), c_locale)
    assert tab["MWM_ASCII"] == "0"
    assert load_settings({}, browser_environment(c_locale) | tab).ascii is False
    asked = load_settings({"ascii": True}, browser_environment(c_locale))
    assert tab_environment(asked, c_locale)["MWM_ASCII"] == "1"


def test_only_pages_of_its_own_origin_are_answered() -> None:
    local = DashboardServer(Listener("127.0.0.1", 8000, loopback=True), None).doors
    assert local.allows("127.0.0.1:8000", None)
    assert local.allows("localhost:8000", "http://localhost:8000")
    assert local.allows("127.0.0.1:8000", "http://localhost:8000")
    assert local.allows("[::1]:8000", "http://[::1]:8000")
    # Another site's page in the dispatcher's browser, and DNS rebinding onto loopback.
    assert not local.allows("127.0.0.1:8000", "https://evil.example")
    assert not local.allows("127.0.0.1:8000", "http://localhost:9999")
    assert not local.allows("127.0.0.1:8000", "null")
    assert not local.allows("evil.example:8000", "http://evil.example:8000")
    proxied = DashboardServer(
        Listener("127.0.0.1", 8000, loopback=True), "https://hq.example.com/mwm"
    ).doors
    assert proxied.allows("hq.example.com", "https://hq.example.com")
    assert not proxied.allows("hq.example.com", "https://evil.example")
    public = DashboardServer(Listener("0.0.0.0", 8000, loopback=False), "http://hq-host:8000").doors
    assert public.allows("hq-host:8000", "http://hq-host:8000")
    assert public.allows("hq-host:8000", None)
    assert not public.allows("hq-host:8000", "http://evil.example")
    assert not public.allows("hq-host:8000", "http://hq-host:9000")
    assert not public.allows("hq-host:9000", "http://hq-host:8000")
    # Rebinding a name to the server's address: its Host is that name, not --url's.
    assert not public.allows("rebound.example:8000", "http://rebound.example:8000")
    assert not public.allows("10.0.0.5:8000", None)
    assert not public.allows("localhost:8000", "http://localhost:8000")


def test_the_running_server_refuses_a_foreign_host_and_origin(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MWM_")}
    env["MWM_CONFIG"] = os.devnull
    port = free_port()
    with ServeProcess(tmp_path, port, "--demo", env=env) as server:
        server.wait_listening()

        def status(path: str, headers: dict[str, str]) -> int:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("GET", path, headers=headers)
                return connection.getresponse().status
            finally:
                connection.close()

        upgrade = {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        }
        assert status("/", {}) == 200
        assert status("/", {"Host": f"rebound.example:{port}"}) == 403
        assert status("/ws", upgrade | {"Origin": "https://evil.example"}) == 403
        # The dashboard's own page may open it: the tab's app starts, then the socket closes.
        assert status("/ws", upgrade | {"Origin": f"http://localhost:{port}"}) == 101
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(15) == 0


def test_only_the_web_driver_counts_as_a_browser() -> None:
    assert in_browser({"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"})
    assert not in_browser({"TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver"})
    assert not in_browser({})


def open_tab(port: int) -> socket.socket:
    """A WebSocket to the server, as a tab's page opens it; the server starts a dashboard."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"GET /ws?width=120&height=40 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode()
    )
    assert sock.recv(12) == b"HTTP/1.1 101"
    return sock


def test_a_killed_server_takes_its_tabs_dashboards_with_it(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MWM_")}
    env["MWM_CONFIG"] = os.devnull
    port = free_port()
    with ServeProcess(tmp_path, port, "--demo", env=env) as server:
        server.wait_listening()
        with open_tab(port) as sock:
            (tab,) = server.wait_tabs(1, 15)
            received = 0
            while received < 20_000:  # the first screens: the dashboard is up and drawing
                data = sock.recv(65536)
                assert data, f"the server closed the tab after {received} bytes"
                received += len(data)
            parent = int(Path(f"/proc/{tab}/stat").read_text().rsplit(")", 1)[1].split()[1])
            assert parent == server.proc.pid
            server.proc.kill()  # no chance to stop its tabs itself
            server.proc.wait(10)
            deadline = time.monotonic() + 10
            while alive(tab):
                assert time.monotonic() < deadline, "the dashboard outlived its server"
                time.sleep(0.05)
