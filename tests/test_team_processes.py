"""HQ is a team, as its dispatchers meet it: real dashboards of real Unix users, in tmux.

Each dashboard runs as a Unix user the test creates (and removes), in a team data directory
that the users' group owns (``2770``), against real brokers and ``mwm-sim``. The users cannot
run this session's interpreter (it may live under a private home), so the dashboards run from
a virtualenv of the system's ``python3`` with the project installed, built once per module.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mwm_tui.adapters.store import database_path
from tests.support.brokers import ActiveMQ, ActiveMQFactory, Mosquitto
from tests.support.sim import ROOT, Sim, fleet_ids, send_marker_orders, unique_prefix
from tests.test_e2e_tmux import SESSION, Tmux, list_rows

SYSTEM_PYTHON = Path("/usr/bin/python3")
# The latency figures: this many orders from one seat, each timed until the other shows it.
LATENCY_ORDERS = 20
WIDTH, HEIGHT = 240, 50


@dataclass(frozen=True)
class Place:
    """A directory every user can read: the virtualenv, the config, the users' homes."""

    root: Path
    venv: Path
    config: Path


@pytest.fixture(scope="module")
def shared_place() -> Iterator[Place]:
    """The project installed in a virtualenv of the system's python3, readable by every user."""
    if os.geteuid() != 0:
        pytest.fail("this module creates Unix users: run it as root (as CI does)")
    if not SYSTEM_PYTHON.is_file():
        pytest.fail(f"{SYSTEM_PYTHON} missing: run `make bootstrap` (python3-venv)")
    root = Path(tempfile.mkdtemp(prefix="mwm-team-"))
    try:
        root.chmod(0o755)
        venv = root / "venv"
        subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(venv)], check=True, timeout=120)
        # From the package index pip is configured with; the project from this checkout.
        subprocess.run(
            [str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(ROOT)],
            check=True,
            timeout=600,
            capture_output=True,
        )
        config = root / "config.toml"
        config.write_text("")  # no personal settings
        config.chmod(0o644)
        yield Place(root, venv, config)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Team:
    group: str
    users: list[str]
    directory: Path  # the team's data directory: the group's, setgid, 2770


def _run(*command: str) -> None:
    subprocess.run(command, check=True, timeout=30, capture_output=True)


@pytest.fixture
def team(shared_place: Place) -> Iterator[Team]:
    """Three dispatchers of one Unix group and their data directory; all removed at the end."""
    tag = uuid.uuid4().hex[:6]
    group = f"mwmhq{tag}"
    users = [f"mwm{tag}d{n}" for n in (1, 2, 3)]
    made: list[str] = []
    _run("groupadd", group)
    try:
        for user in users:
            home = shared_place.root / f"home-{user}"
            _run("useradd", "-M", "-N", "-g", group, "-d", str(home), "-s", "/bin/sh", user)
            made.append(user)
            home.mkdir(mode=0o700)
            os.chown(home, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
        directory = shared_place.root / f"team-{tag}"
        directory.mkdir()
        os.chown(directory, 0, grp.getgrnam(group).gr_gid)
        directory.chmod(0o2770)
        yield Team(group, users, directory)
    finally:
        problems = [problem for user in made if (problem := _remove_user(user))]
        removed = subprocess.run(["groupdel", group], capture_output=True, timeout=30, check=False)
        if removed.returncode != 0:
            problems.append(f"groupdel {group}: {removed.stderr.decode(errors='replace')}")
        assert not problems, problems


def _remove_user(user: str) -> str | None:
    """userdel, once the processes the test started as ``user`` have ended; what failed."""
    uid = pwd.getpwnam(user).pw_uid
    deadline = time.monotonic() + 10
    while (left := _pids_of(uid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        return f"{user} still runs {left}: not removed"
    removed = subprocess.run(["userdel", user], capture_output=True, timeout=30, check=False)
    if removed.returncode != 0:
        return f"userdel {user}: {removed.stderr.decode(errors='replace')}"
    return None


def _pids_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                continue
    return pids


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


class Dashboard:
    """One mwm-tui of one Unix user, in a tmux of its own."""

    def __init__(self, workdir: Path, place: Place, user: str, data_dir: Path) -> None:
        self.user = user
        (workdir / user).mkdir(parents=True)
        self.tmux = Tmux(workdir / user)
        self.place = place
        self.data_dir = data_dir

    def start(self, stomp_url: str, mqtt_url: str) -> None:
        home = self.place.root / f"home-{self.user}"
        environment = (
            f"env -i HOME={home} LANG=C.UTF-8 TERM=tmux-256color PATH=/usr/bin:/bin "
            f"MWM_CONFIG={self.place.config}"
        )
        app = (
            f"{self.place.venv / 'bin/mwm-tui'} --data-dir {self.data_dir} "
            f"--stomp {stomp_url} --mqtt {mqtt_url}"
        )
        # Wide enough for the events pane to hold a dispatch line on one row.
        size = ["-x", str(WIDTH), "-y", str(HEIGHT)]
        command = f"runuser -u {self.user} -- {environment} {app}"
        self.tmux.tmux("new-session", "-d", "-s", SESSION, *size, "-c", str(ROOT), command)

    def app_pid(self) -> int:
        """The mwm-tui process: runuser's child (env replaced itself with it)."""
        runuser = int(self.tmux.pane("pane_pid"))
        deadline = time.monotonic() + 10
        while not (children := _children(runuser)):
            assert time.monotonic() < deadline, self.tmux.report("no process under runuser")
            time.sleep(0.05)
        (pid,) = children
        assert Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam(self.user).pw_uid
        return pid

    def wait_links_up(self, timeout: float = 30) -> None:
        self.tmux.wait(
            lambda s: "STOMP ▲ up" in s and "MQTT ▲ up" in s, timeout, f"{self.user}: links up"
        )

    def filter_fleet(self, prefix: str, device_ids: list[str]) -> None:
        self.tmux.keys("/")
        self.tmux.wait(lambda s: "esc Clear" in s, 5, "the filter field")
        self.tmux.type(prefix)
        self.tmux.keys("Enter")
        self.tmux.wait(
            lambda s: [row[1] for row in list_rows(s)] == device_ids, 20, f"{device_ids} listed"
        )

    def order(self, text: str, *, first: bool) -> float:
        """Type an order to the selected truck and send it; return when Enter went (monotonic).

        ``first``: the composer is not focused yet (``o``); later orders are typed straight in.
        """
        if first:
            self.tmux.keys("o")
            self.tmux.wait(lambda s: "esc Back" in s, 5, "the composer to take the keys")
        self.tmux.type(text)
        self.tmux.keys("Enter")
        # This order's review, ready: the screen may still show the last one's a moment.
        self.tmux.wait(
            lambda s: "Enter sends" in s and f"order  {text}" in s,
            5,
            "the order's review, ready for Enter",
        )
        self.tmux.keys("Enter")
        return time.monotonic()

    def close(self) -> None:
        """End the dashboard and runuser by pid (tmux's hangup stops at runuser), then tmux."""
        try:
            # A dead pane's pid may belong to another process by now: pids are reused.
            live = self.tmux.pane("pane_dead") != "1"
            runuser = int(self.tmux.pane("pane_pid")) if live else 0
        except (subprocess.SubprocessError, OSError, ValueError):
            runuser = 0  # no session: nothing was started
        if runuser:
            for pid in [*_children(runuser), runuser]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.tmux.kill()


def order_lines(sim: Sim) -> list[str]:
    return [line for line in sim.lines("ORDER ") if not line.endswith(": marker")]


def markers(sim: Sim) -> list[str]:
    return [line for line in sim.lines("ORDER ") if line.endswith(": marker")]


def wait_orders_settled(sim: Sim, stomp_url: str, device_ids: list[str], timeout: float) -> None:
    """Markers queued behind every order: once each device printed its marker, nothing earlier
    is pending at the broker."""
    expected = len(markers(sim)) + len(device_ids)
    send_marker_orders(stomp_url, device_ids)
    deadline = time.monotonic() + timeout
    while len(markers(sim)) < expected:
        assert time.monotonic() < deadline, f"markers missing: {sim.out}"
        time.sleep(0.05)


# Includes building the users' virtualenv when it runs first (about 10 s).
@pytest.mark.timeout(300)
def test_two_dispatchers_one_team_see_each_others_orders_and_survive_a_kill_9(
    tmp_path: Path,
    shared_place: Place,
    team: Team,
    fresh_activemq: ActiveMQFactory,
    mosquitto: Mosquitto,
) -> None:
    stomp_broker: ActiveMQ = fresh_activemq(persistent=True)
    prefix = unique_prefix("team")
    device_ids = fleet_ids(prefix, 3)
    target = device_ids[1]
    user1, user2 = team.users[:2]
    d1 = Dashboard(tmp_path, shared_place, user1, team.directory)
    d2 = Dashboard(tmp_path, shared_place, user2, team.directory)
    with Sim(
        stomp_broker.url, mosquitto.url, tmp_path, "--devices", "3", "--prefix", prefix
    ) as sim:
        try:
            d1.start(stomp_broker.url, mosquitto.url)
            d1.wait_links_up()
            d2.start(stomp_broker.url, mosquitto.url)
            d2.wait_links_up()
            d2.tmux.wait(
                lambda s: f"⇄ {user1}'s dashboard sends" in s, 10, "d2 naming d1 as the leader"
            )
            sim.wait_ready(30)
            for dashboard in (d1, d2):
                dashboard.filter_fleet(prefix, device_ids)
            d2.tmux.keys("g", "j")
            d2.tmux.wait(lambda s: f"motion · {target} " in s, 5, f"{target} selected in d2")

            # An order typed in d2 shows in d1 with its sender; d1 alone sends it, once.
            latencies = []
            texts = [f"latency {n:02d}" for n in range(LATENCY_ORDERS)]
            for number, text in enumerate(texts):
                sent_at = d2.order(text, first=number == 0)
                line = f"{user2}: order to {target} ({text})"
                try:
                    d1.tmux.wait(lambda s, line=line: line in s, 5, f"{line!r} in d1")
                except AssertionError as error:
                    raise AssertionError(f"{error}\n{d2.tmux.report('--- d2 ---')}") from None
                latencies.append(time.monotonic() - sent_at)
            d2.tmux.wait(lambda s: "accepted by the broker" in s, 15, "d2: the outcome")
            wait_orders_settled(sim, stomp_broker.url, device_ids, 30)
            assert order_lines(sim) == [f"ORDER {target}: {text}" for text in texts]
            median, worst = statistics.median(latencies), max(latencies)
            print(
                f"\nteam latency d2 -> d1 over {len(latencies)} orders: "
                f"median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms"
            )
            assert worst < 1.0, latencies

            # STOMP down, an order of d2 queued in the team's outbox, its leader killed -9.
            stomp_broker.kill()
            for dashboard in (d1, d2):
                dashboard.tmux.wait(lambda s: "STOMP ▲ up" not in s, 30, "STOMP down")
            text = "after the leader"
            d2.order(text, first=False)
            line = f"{user2}: order to {target} ({text}) queued"
            d1.tmux.wait(lambda s: line in s, 5, "d1 holding d2's order queued")
            os.kill(d1.app_pid(), signal.SIGKILL)
            d2.tmux.wait(
                lambda s: "this dashboard now sends the team's outbox (1 taken up)" in s,
                5,
                "d2 taking the lead",
            )
            stomp_broker.start()
            sim.wait_line(f"ORDER {target}: {text}", 60)
            d2.tmux.wait(lambda s: f"({text}) accepted by the broker" in s, 30, "d2: the outcome")
            wait_orders_settled(sim, stomp_broker.url, device_ids, 60)
            assert order_lines(sim) == [f"ORDER {target}: {text}" for text in [*texts, text]]
            assert "Traceback" not in d2.tmux.screen()
        finally:
            d1.close()
            d2.close()


def saved_status(data_dir: Path, device_id: str) -> str | None:
    """The status the team's database keeps for ``device_id`` as last known, if any."""
    db = sqlite3.connect(f"{database_path(data_dir).as_uri()}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        row = db.execute(
            "SELECT status FROM fleet_state WHERE device_id = ?", (device_id,)
        ).fetchone()
    except sqlite3.OperationalError:  # the table not made yet
        return None
    finally:
        db.close()
    return None if row is None else str(row[0])


@pytest.mark.timeout(300)
def test_a_dispatcher_who_starts_after_a_will_sees_the_truck_offline_at_once(
    tmp_path: Path,
    shared_place: Place,
    team: Team,
    activemq: ActiveMQ,
    mosquitto: Mosquitto,
) -> None:
    prefix = unique_prefix("will")
    device_ids = fleet_ids(prefix, 2)
    gone = device_ids[0]
    d1 = Dashboard(tmp_path, shared_place, team.users[0], team.directory)
    d3 = Dashboard(tmp_path, shared_place, team.users[2], team.directory)
    with Sim(activemq.url, mosquitto.url, tmp_path, "--devices", "2", "--prefix", prefix) as sim:
        try:
            d1.start(activemq.url, mosquitto.url)
            d1.wait_links_up()
            sim.wait_ready(30)
            # Only this test's trucks: the session brokers keep other tests' retained motion.
            d1.tmux.keys("/")
            d1.tmux.type(prefix)
            d1.tmux.keys("Enter")
            d1.tmux.wait(lambda s: ("online", gone) in list_rows(s), 20, f"{gone} online in d1")
            sim.command(f"kill {gone}")
            d1.tmux.wait(lambda s: ("offline", gone) in list_rows(s), 20, f"{gone} offline in d1")
            deadline = time.monotonic() + 15
            while saved_status(team.directory, gone) != "offline":
                assert time.monotonic() < deadline, "the will never reached the team's database"
                time.sleep(0.1)

            started = time.monotonic()
            d3.start(activemq.url, mosquitto.url)
            # The first screen that lists the truck at all lists it offline.
            screen = d3.tmux.wait(
                lambda s: gone in {device for _, device in list_rows(s)}, 20, f"{gone} in d3"
            )
            shown_after = time.monotonic() - started
            assert ("offline", gone) in list_rows(screen), d3.tmux.report("not offline first")
            d3.wait_links_up()
            screen = d3.tmux.screen()
            assert ("offline", gone) in list_rows(screen), d3.tmux.report("offline, then not")
            print(f"\n{gone} offline in a dashboard started after its will: {shown_after:.2f} s")
        finally:
            d1.close()
            d3.close()
