"""``mwm-tui users add`` and ``mwm-tui serve --users``: the users file, the login over real
HTTP, the session cookie, the brake on wrong passwords, seats and the name each seat signs with.
"""

from __future__ import annotations

import fcntl
import http.client
import os
import select
import socket
import stat
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import NoReturn

import pytest

from mwm_tui.adapters.users_file import UsersFileError, load_users
from mwm_tui.commands import serve
from mwm_tui.commands.serve_login import Sessions
from mwm_tui.commands.terminal import SEAT_NAME, SERVER_PID, seat_name
from mwm_tui.config import Settings
from mwm_tui.domain.passwords import parse_hash, valid_name
from tests.support.brokers import free_port
from tests.support.browser import ServeProcess, alive, mwm_tui_command
from tests.support.cli import RunCli

WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def clean_environment(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MWM_")}
    return env | {"MWM_CONFIG": os.devnull} | extra


def add_user(users: Path, name: str, password: str) -> subprocess.CompletedProcess[str]:
    """``mwm-tui users add`` with the password on standard input (not a terminal)."""
    return subprocess.run(
        mwm_tui_command("users", "add", name, "--users", str(users)),
        input=password + "\n",
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=30,
        check=False,
    )


def test_users_add_reads_the_password_from_stdin_and_writes_a_private_scrypt_line(
    tmp_path: Path,
) -> None:
    users = tmp_path / "users"
    result = add_user(users, "alice", "correct horse battery")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mwm-tui users: alice added to {users}\n"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    (line,) = users.read_text().splitlines()
    name, _, stored = line.partition(":")
    assert name == "alice" and stored.startswith("scrypt$32768$8$1$")
    assert parse_hash(stored).matches("correct horse battery")
    assert not parse_hash(stored).matches("correct horse batterY")

    # A second person, then a new password for the first: one line each, still 0600.
    users.chmod(0o640)
    assert add_user(users, "bob", "bobs password").returncode == 0
    again = add_user(users, "alice", "another secret")
    assert again.stdout == f"mwm-tui users: alice has a new password in {users}\n"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    read = load_users(users)
    assert sorted(read) == ["alice", "bob"]
    assert read["alice"].matches("another secret")
    assert not read["alice"].matches("correct horse battery")
    assert read["bob"].matches("bobs password")


@pytest.mark.parametrize(
    ("name", "password", "says"),
    [
        ("alice", "short", "at least 8 characters"),
        ("al ice", "long enough", "a name is 1 to 32 letters"),
        ("a:lice", "long enough", "a name is 1 to 32 letters"),
        ("x" * 33, "long enough", "a name is 1 to 32 letters"),
    ],
)
def test_users_add_refuses_a_bad_name_or_password_in_one_line(
    tmp_path: Path, name: str, password: str, says: str, clean_cli: RunCli
) -> None:
    users = str(tmp_path / "users")
    result = clean_cli("users", "add", name, "--users", users, stdin=password + "\n")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
    assert not (tmp_path / "users").exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("alice\n", "line 1: expected NAME:HASH"),
        ("# team\n\nal ice:scrypt$1\n", "line 3: the name must be"),
        ("alice:md5$abc\n", "line 1: the hash must read scrypt$N$r$p$SALT$KEY"),
        ("alice:scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA\n", "N must be"),
        ("alice:scrypt$1048576$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA\n", "256 MiB"),
        ("alice:scrypt$32768$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA\n", "the salt needs 16 bytes"),
        ("alice:scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$not base64!\n", "URL-safe base64"),
        ("", "no users"),
        ("#" * 300_000 + "\n", "larger than 256 KiB"),
    ],
    ids=["no-colon", "name", "scheme", "small-n", "memory", "salt", "base64", "empty", "size"],
)
def test_a_bad_users_file_is_one_error_line_naming_the_file_and_line(
    tmp_path: Path, content: str, says: str, clean_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = tmp_path / "users"
    users.write_text(content)
    with pytest.raises(UsersFileError, match="users file") as caught:
        load_users(users)
    assert str(caught.value).startswith(f"users file {users}")
    assert says in str(caught.value)

    # serve in this process: a file it took would fail here, before serve sets up its tabs.
    real_load_login = serve.load_login

    def load_login(settings: Settings) -> NoReturn:
        real_load_login(settings)
        pytest.fail(f"serve took the users file {content[:40]!r}")

    monkeypatch.setattr(serve, "load_login", load_login)
    port = str(free_port())
    result = clean_cli("serve", "--demo", "--port", port, "--users", str(users))
    assert result.returncode == 2
    assert result.stderr == f"mwm-tui serve: error: {caught.value}\n"


def test_serve_ends_with_status_2_on_a_bad_users_file(tmp_path: Path) -> None:
    """The test above as a shell sees it: a separate process, its status and one line."""
    users = tmp_path / "users"
    users.write_text("alice\n")
    with pytest.raises(UsersFileError) as caught:
        load_users(users)
    result = subprocess.run(
        mwm_tui_command("serve", "--demo", "--port", str(free_port()), "--users", str(users)),
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == f"mwm-tui serve: error: {caught.value}\n"


def test_a_second_line_for_a_name_is_refused(tmp_path: Path, clean_cli: RunCli) -> None:
    users = tmp_path / "users"
    added = clean_cli("users", "add", "alice", "--users", str(users), stdin="password one\n")
    assert added.returncode == 0, added
    line = users.read_text()
    users.write_text(line + line)
    with pytest.raises(UsersFileError, match="line 2: alice is already on an earlier line"):
        load_users(users)


def test_names_fit_the_history_and_sessions_expire_when_idle() -> None:
    assert valid_name("alice") and valid_name("d.01_x-y") and valid_name("a" * 32)
    assert not valid_name("a" * 33) and not valid_name("") and not valid_name("a:b")
    now = [1000.0]
    sessions = Sessions(clock=lambda: now[0])
    token = sessions.open("alice")
    assert len(token) >= 40 and token != sessions.open("alice")
    assert sessions.name_of(token) == "alice"
    assert sessions.name_of("forged") is None and sessions.name_of(None) is None
    now[0] += 11 * 3600
    assert sessions.name_of(token) == "alice"  # in use: the idle clock starts again
    now[0] += 12 * 3600 + 1
    assert sessions.name_of(token) is None


def test_a_terminal_dashboard_cannot_take_a_seat_name_from_its_environment(
    tmp_path: Path,
) -> None:
    forged = {SEAT_NAME: "alice", "TEXTUAL_DRIVER": WEB_DRIVER, SERVER_PID: str(os.getppid())}
    assert seat_name(forged) is None  # this process's parent is not mwm-tui serve
    # A child of this test given every variable a seat has, its parent named: still none.
    script = "from mwm_tui.commands.terminal import seat_name; print(seat_name())"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_environment(
            **{SEAT_NAME: "alice", "TEXTUAL_DRIVER": WEB_DRIVER, SERVER_PID: str(os.getpid())}
        ),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout == "None\n"


class Client:
    """Raw HTTP to a local server, as a browser would send it: Host, Origin, cookies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: str = ""
    ) -> tuple[int, http.client.HTTPMessage, str, float]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=90)
        began = time.monotonic()
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            return response.status, response.headers, text, time.monotonic() - began
        finally:
            connection.close()

    def log_in(self, name: str, password: str) -> tuple[int, http.client.HTTPMessage, str, float]:
        form = f"name={name}&password={password.replace(' ', '+')}"
        headers = {"Origin": self.origin, "Content-Type": "application/x-www-form-urlencoded"}
        return self.request("POST", "/login", headers, form)


def websocket_status(port: int, cookie: str | None) -> tuple[int, socket.socket]:
    """Open /ws as a tab's page does; the status, and the socket (left open)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    request = (
        f"GET /ws?width=120&height=40 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\n"
        + (f"Cookie: {cookie}\r\n" if cookie else "")
        + "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    sock.sendall(request.encode())
    return int(sock.recv(12).split()[1]), sock


def test_a_browser_logs_in_before_any_dashboard_runs_and_wrong_passwords_are_slowed(
    tmp_path: Path, clean_cli: RunCli
) -> None:
    users = tmp_path / "users"
    added = clean_cli("users", "add", "alice", "--users", str(users), stdin="correct horse\n")
    assert added.returncode == 0, added
    port = free_port()
    arguments = ("--demo", "--devices", "2", "--users", str(users), "--max-seats", "1")
    with ServeProcess(tmp_path / "serve", port, *arguments, env=clean_environment()) as server:
        server.wait_listening()
        client = Client(port)
        status, headers, _, _ = client.request("GET", "/")
        assert (status, headers["Location"]) == (303, "/login")
        status, headers, page, _ = client.request("GET", "/login")
        assert status == 200 and 'name="password"' in page
        assert headers["X-Frame-Options"] == "DENY"
        # No session, no dashboard: the socket is refused before any process starts.
        status, sock = websocket_status(port, None)
        sock.close()
        assert status == 401 and server.tabs() == []
        status, sock = websocket_status(port, "mwm_session=forged-token")
        sock.close()
        assert status == 401 and server.tabs() == []

        # Each wrong password in a row, by name and by address, waits longer.
        status, _, page, first = client.log_in("alice", "wrong horse")
        assert status == 401 and "Wrong name or password." in page
        status, _, _, second = client.log_in("alice", "wrong again")
        assert status == 401
        status, _, _, unknown = client.log_in("mallory", "whatever1")
        assert status == 401
        assert first >= 1.0 and second >= 2.0 and unknown >= 4.0, (first, second, unknown)
        log = server.stderr_path.read_text()
        assert "login refused: 'alice' from 127.0.0.1 (1 wrong in a row)" in log
        assert "login refused: 'alice' from 127.0.0.1 (2 wrong in a row)" in log
        assert "login refused: 'mallory' from 127.0.0.1 (3 wrong in a row)" in log
        # A login from another page is refused at the door.
        forged = {"Origin": "https://evil.example"}
        assert client.request("POST", "/login", forged, "name=alice&password=x")[0] == 403

        status, headers, _, _ = client.log_in("alice", "correct horse")
        assert status == 303 and headers["Location"] == "/"
        cookie = headers["Set-Cookie"]
        token = cookie.split(";", 1)[0]
        assert token.startswith("mwm_session=") and len(token) > 50
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "alice logged in from 127.0.0.1" in server.stderr_path.read_text()
        status, _, page, _ = client.request("GET", "/", {"Cookie": token})
        assert status == 200 and "data-session-websocket-url" in page
        # A logged-out session is gone server-side, whatever the browser keeps.
        other = client.log_in("alice", "correct horse")[1]["Set-Cookie"].split(";", 1)[0]
        assert other != token
        logout = {"Cookie": other, "Origin": client.origin}
        assert client.request("POST", "/logout", logout)[:2][0] == 303
        assert client.request("GET", "/", {"Cookie": other})[0] == 303

        # The one seat: a dashboard named alice; a second socket is refused, nothing started.
        status, sock = websocket_status(port, token)
        assert status == 101
        (tab,) = server.wait_tabs(1, 15)
        environ = Path(f"/proc/{tab}/environ").read_bytes().split(b"\0")
        assert f"{SEAT_NAME}=alice".encode() in environ
        refused, other = websocket_status(port, token)
        other.close()
        assert refused == 503
        status, _, page, _ = client.request("GET", "/", {"Cookie": token})
        assert status == 503 and "Every seat is taken" in page and "1 dashboards" in page
        time.sleep(0.5)
        assert server.tabs() == [tab]
        # Its socket closed, the seat and its process are free within seconds.
        sock.close()
        deadline = time.monotonic() + 10
        while alive(tab):
            assert time.monotonic() < deadline, "the closed seat's dashboard still runs"
            time.sleep(0.05)
        while client.request("GET", "/", {"Cookie": token})[0] != 200:
            assert time.monotonic() < deadline, "the seat was never freed"
            time.sleep(0.05)
        assert server.stop() == 0
    assert "Traceback" not in server.output


def test_users_add_on_a_terminal_asks_twice_without_echo(tmp_path: Path) -> None:
    users = tmp_path / "users"
    controller, terminal = os.openpty()

    def own_terminal() -> None:  # getpass talks to the controlling terminal, /dev/tty
        os.setsid()
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        mwm_tui_command("users", "add", "carol", "--users", str(users)),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=clean_environment(),
        preexec_fn=own_terminal,  # noqa: PLW1509 - the child has no threads yet
    )
    os.close(terminal)
    seen = b""

    def read_until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 20
        while text not in seen:
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                seen += os.read(controller, 1024)

    try:
        read_until(b"password for carol: ")
        os.write(controller, b"typed unseen 42\n")
        read_until(b"the same again: ")
        os.write(controller, b"typed unseen 42\n")
        read_until(b"carol added to")
        assert process.wait(20) == 0
    finally:
        process.kill()
        process.wait()
        os.close(controller)
    assert b"typed unseen" not in seen, seen
    assert load_users(users)["carol"].matches("typed unseen 42")
