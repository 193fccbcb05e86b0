"""As a person at a terminal: the real console scripts in a 120x40 tmux, read and typed into.

One test goes through a real ``ssh`` to a real ``sshd`` on loopback, as a dispatcher does.

Each test has a tmux server of its own on a private socket, killed at the end whatever happens.
Every wait polls the screen with a deadline, and a failure shows the last screen captured.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.brokers import ActiveMQ, Mosquitto
from tests.support.sim import ROOT, Sim, fleet_ids, send_marker_orders, unique_prefix
from tests.support.sshd import Sshd

WIDTH, HEIGHT = 120, 40
SESSION = "e2e"
PROMPT = "mwm-e2e$ "


class Tmux:
    """One tmux server on a private socket, with one session of one pane."""

    def __init__(self, workdir: Path) -> None:
        self.socket = f"mwm-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.config = workdir / "tmux.conf"
        # The pane stays after its command ends, so that its exit status can be read.
        self.config.write_text("set -g remain-on-exit on\nset -g history-limit 2000\n")
        self.env = {key: value for key, value in os.environ.items() if key != "TMUX"}
        empty_config = workdir / "empty-config.toml"
        empty_config.write_text("")
        self.env["MWM_CONFIG"] = str(empty_config)  # no personal settings
        self.rcfile = workdir / "bashrc"
        self.rcfile.write_text(f"PS1='{PROMPT}'\n")  # a prompt the test can recognise
        self.last_screen = ""

    def tmux(self, *arguments: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(self.config), *arguments],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=10,
            check=True,
        )
        return result.stdout

    def start(self, command: str, cwd: Path) -> None:
        size = ["-x", str(WIDTH), "-y", str(HEIGHT)]
        self.tmux("new-session", "-d", "-s", SESSION, *size, "-c", str(cwd), command)

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10, check=False
        )

    def screen(self) -> str:
        self.last_screen = self.tmux("capture-pane", "-p", "-t", SESSION)
        return self.last_screen

    def pane(self, variable: str) -> str:
        return self.tmux("display-message", "-p", "-t", SESSION, f"#{{{variable}}}").strip()

    def keys(self, *keys: str) -> None:
        """Keys by tmux name: Enter, Escape, q, j."""
        self.tmux("send-keys", "-t", SESSION, *keys)

    def type(self, text: str) -> None:
        """Text exactly as typed, letter by letter."""
        self.tmux("send-keys", "-t", SESSION, "-l", text)

    def report(self, message: str) -> str:
        """``message`` and the screen as it is now, for an assertion."""
        return f"{message}\n--- last screen ---\n{self.screen_or_last()}"

    def screen_or_last(self) -> str:
        try:
            return self.screen()
        except (subprocess.SubprocessError, OSError):
            return self.last_screen

    def wait(self, predicate: Callable[[str], object], timeout: float, what: str) -> str:
        """Poll the screen until ``predicate(screen)`` holds; return that screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    self.report(f"timed out after {timeout:g} s waiting for {what}")
                )
            time.sleep(0.05)

    def wait_exit_status(self, timeout: float) -> str:
        """Wait until the pane's command has ended; return its exit status as tmux reports it."""
        server = int(self.tmux("display-message", "-p", "#{pid}"))
        deadline = time.monotonic() + timeout
        while not (status := self.pane("pane_dead_status")):
            if time.monotonic() > deadline:
                dead = self.pane("pane_dead")
                raise AssertionError(self.report(f"no exit status after {timeout:g} s ({dead=})"))
            if self.pane("pane_dead") == "1":
                # A tmux built with libutempter can miss the SIGCHLD of a pane that exits while
                # it updates utmp (tmux issue #311): one more SIGCHLD makes it reap the pane.
                os.kill(server, signal.SIGCHLD)
            time.sleep(0.05)
        return status

    def wait_command(self, name: str, timeout: float) -> None:
        """Wait until the pane's foreground process is ``name``."""
        deadline = time.monotonic() + timeout
        while (current := self.pane("pane_current_command")) != name:
            if time.monotonic() > deadline:
                message = f"{current!r} in the foreground, not {name!r}, after {timeout} s"
                raise AssertionError(self.report(message))
            time.sleep(0.05)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: run `make bootstrap`")
    server = Tmux(tmp_path)
    try:
        yield server
    finally:
        server.kill()


def console_script(name: str) -> Path:
    script = Path(sys.executable).with_name(name)
    assert script.is_file(), f"{script} missing: run `make bootstrap-python`"
    return script


def list_rows(screen: str) -> list[tuple[str, str]]:
    """(status, id) of each device list row on screen, top to bottom."""
    return re.findall(r"^│. (online|stale|offline)\s+(\S+)", screen, re.MULTILINE)


def leave_text_field(tmux: Tmux) -> None:
    """Escape, then wait until the footer offers Quit again: the key reached the app."""
    tmux.keys("Escape")
    # Textual waits a moment after ESC to tell it from an escape sequence; a key typed
    # within that moment would be read as Alt+key.
    time.sleep(0.1)
    tmux.wait(lambda screen: "q Quit" in screen, 5, "the footer with q Quit after Escape")


def test_dispatcher_orders_the_selected_truck_and_quits(
    tmux: Tmux, tmp_path: Path, activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix("tmux")
    device_ids = fleet_ids(prefix, 3)
    with Sim(activemq.url, mosquitto.url, tmp_path, "--devices", "3", "--prefix", prefix) as sim:
        command = f"{console_script('mwm-tui')} --stomp {activemq.url} --mqtt {mosquitto.url}"
        tmux.start(command, ROOT)
        pid = int(tmux.pane("pane_pid"))
        tmux.wait(
            lambda screen: "STOMP ▲ up" in screen and "MQTT ▲ up" in screen, 20, "both links up"
        )
        sim.wait_ready(20)

        tmux.keys("/")
        tmux.wait(lambda s: "esc Clear" in s, 5, "the filter field")
        tmux.type(prefix)
        tmux.keys("Enter")

        def fleet_online(screen: str) -> bool:
            return list_rows(screen) == [("online", device_id) for device_id in device_ids]

        tmux.wait(fleet_online, 20, f"{device_ids} online in the list")
        # The first row, then the next one: the motion pane's title names the selected device.
        tmux.keys("g")
        tmux.wait(lambda s: f"motion · {device_ids[0]} " in s, 5, "the first device selected")
        tmux.keys("j")
        target = device_ids[1]
        tmux.wait(lambda s: f"motion · {target} " in s, 5, f"{target} selected")

        tmux.keys("o")
        tmux.wait(lambda s: "esc Back" in s, 5, "the composer to take the keys")
        tmux.type("Where are you heading to?")
        tmux.keys("Enter")
        tmux.wait(lambda s: "Enter sends" in s, 5, "the order's review, ready for Enter")
        tmux.keys("Enter")
        line = sim.wait_line("ORDER ", 20)
        assert line == f"ORDER {target}: Where are you heading to?", tmux.report(line)
        # One word: the narrow log pane wraps its lines, and scrolls their start away.
        tmux.wait(lambda s: "(receipt);" in s, 15, "the broker receipt on screen")
        # Once every other device has read a marker queued after the order, no copy is pending.
        others = [device_id for device_id in device_ids if device_id != target]
        send_marker_orders(activemq.url, others)
        deadline = time.monotonic() + 20
        while len(sim.lines("ORDER ")) < len(device_ids):
            assert time.monotonic() < deadline, tmux.report(f"markers missing: {sim.out}")
            time.sleep(0.05)
        orders = [line for line in sim.lines("ORDER ") if not line.endswith(": marker")]
        assert orders == [f"ORDER {target}: Where are you heading to?"], tmux.report(str(orders))

        leave_text_field(tmux)
        tmux.keys("q")
        status = tmux.wait_exit_status(15)
        assert status == "0", tmux.report(f"mwm-tui exited with status {status}")
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert "Traceback" not in tmux.screen()
        assert sim.stop() == 0


def test_newcomer_runs_make_demo_and_quits(tmux: Tmux) -> None:
    tmux.start(f"bash --rcfile {tmux.rcfile} --noprofile", ROOT)
    tmux.wait(lambda screen: screen.rstrip().endswith(PROMPT.rstrip()), 10, "the shell prompt")

    tmux.type("make demo")
    tmux.keys("Enter")
    tmux.wait(
        lambda screen: "DEMO" in screen and "truck-01" in screen and "truck-02" in screen,
        25,
        "the demo fleet on screen",
    )
    tmux.keys("q")
    tmux.wait_command("bash", 15)
    screen = tmux.wait(
        lambda s: s.rstrip().endswith(PROMPT.rstrip()), 10, "the prompt after the demo"
    )
    assert "make demo" in screen and "Error" not in screen and "Traceback" not in screen

    tmux.type("echo exit status $?")
    tmux.keys("Enter")
    tmux.wait(lambda s: "\nexit status 0" in s, 5, "make's exit status 0")


def test_dispatcher_runs_the_demo_over_ssh_orders_a_truck_and_quits(
    tmux: Tmux, sshd: Sshd, tmp_path: Path
) -> None:
    empty_config = tmp_path / "config.toml"
    empty_config.write_text("")  # the remote user's own settings stay out of the test
    remote = (
        f"env LANG=C.UTF-8 MWM_CONFIG={empty_config} XDG_DATA_HOME={tmp_path / 'data'} "
        f"{console_script('mwm-tui')} --demo"
    )
    tmux.start(sshd.ssh_command(remote), ROOT)
    tmux.wait(
        lambda screen: "DEMO" in screen and "truck-01" in screen and "truck-02" in screen,
        30,
        "the demo fleet on screen, through ssh",
    )
    tmux.keys("g")
    tmux.wait(lambda s: "motion · truck-01 " in s, 5, "the first truck selected")
    tmux.keys("o")
    tmux.wait(lambda s: "esc Back" in s, 5, "the composer to take the keys")
    tmux.type("Hold position")
    tmux.keys("Enter")
    tmux.wait(lambda s: "Enter sends" in s, 5, "the order's review, ready for Enter")
    tmux.keys("Enter")
    tmux.wait(
        lambda s: "order to truck-01 (Hold position) accepted" in s,
        15,
        "the order's outcome on screen",
    )
    leave_text_field(tmux)
    tmux.keys("q")
    status = tmux.wait_exit_status(20)
    assert status == "0", tmux.report(f"ssh exited with status {status}")
    assert "Traceback" not in tmux.screen_or_last()
    assert "Accepted publickey" in sshd.log.read_text(), "the session did not go through sshd"


def test_demo_under_lang_c_draws_ascii_only(tmux: Tmux) -> None:
    """A terminal in the C locale gets no braille, box drawing or symbols, and no --ascii needed."""
    demo = f"env -u LC_ALL -u LC_CTYPE LANG=C {console_script('mwm-tui')} --demo"
    tmux.start(demo, ROOT)

    def demo_running(screen: str) -> bool:
        return "DEMO" in screen and "* online" in screen and "motion - truck-01" in screen

    screen = tmux.wait(demo_running, 25, "the demo fleet in ASCII")
    time.sleep(2.5)  # a map, charts and the status bar's counts drawn at least once more
    screen = tmux.screen()
    wide = [line for line in screen.splitlines() if not line.isascii()]
    assert not wide, tmux.report(f"lines outside ASCII: {wide}")
    assert re.search(r"^\+- devices -+\+", screen, re.MULTILINE), tmux.report("no ASCII border")
    assert re.search(r"\| pitch .* [+-] *\d+\.\dd \|", screen), tmux.report("no motion values")

    tmux.keys("?")
    screen = tmux.wait(lambda s: "mwm-tui keys" in s, 5, "the help screen")
    assert screen.isascii(), tmux.report("help outside ASCII")
    tmux.keys("Escape")
    tmux.wait(lambda s: "mwm-tui keys" not in s and "q Quit" in s, 5, "help closed")
    tmux.keys("q")
    status = tmux.wait_exit_status(15)
    assert status == "0", tmux.report(f"mwm-tui exited with status {status}")
