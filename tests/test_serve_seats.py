"""``mwm-tui serve``'s seats in real headless Chromium: people log in, each tab is a dashboard of
the team under its person's name, and the seats run out at ``--max-seats``.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from playwright.sync_api import Page

from tests.support.brokers import ActiveMQ, Mosquitto, free_port
from tests.support.browser import (
    Browser,
    ServeProcess,
    alive,
    chromium,
    chromiums,
    log_in,
    mwm_tui_command,
    wait_screen,
)
from tests.support.sim import Sim, fleet_ids, unique_prefix
from tests.test_serve_browser import assert_all_gone, list_rows, press, serve_environment


def add_user(users: Path, name: str, password: str) -> None:
    subprocess.run(
        mwm_tui_command("users", "add", name, "--users", str(users)),
        input=f"{password}\n",
        capture_output=True,
        text=True,
        env=serve_environment(users.parent),
        timeout=30,
        check=True,
    )


def show_only(page: Page, prefix: str) -> None:
    """Filter the device list to this test's trucks (the session brokers keep others')."""
    Browser.focus(page)
    page.keyboard.type("/")
    wait_screen(page, lambda s: "esc Clear" in s, 5, "the filter field")
    page.keyboard.type(prefix)
    press(page, "Enter")


def test_two_people_log_in_and_each_sees_the_others_orders_under_their_name(
    tmp_path: Path, chromium_profile: Path, activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix("seat")
    device_ids = fleet_ids(prefix, 2)
    users = tmp_path / "users"
    add_user(users, "alice", "alice's secret")
    add_user(users, "bob", "bob's secret")
    arguments = ("--stomp", activemq.url, "--mqtt", mosquitto.url, "--users", str(users))
    env = serve_environment(tmp_path)
    with (
        Sim(activemq.url, mosquitto.url, tmp_path, "--devices", "2", "--prefix", prefix) as sim,
        ServeProcess(tmp_path / "serve", free_port(), *arguments, env=env) as server,
    ):
        with chromiums(chromium_profile / "alice", chromium_profile / "bob") as (alices, bobs):
            server.wait_listening()
            alice = alices.open(server.url)
            log_in(alice, "alice", "alice's secret")
            bob = bobs.open(server.url)
            # A wrong password: told so on the page, after a wait, and no dashboard for it.
            began = time.monotonic()
            log_in(bob, "bob", "alice's secret")
            assert bob.locator("[role=alert]").inner_text() == "Wrong name or password."
            assert time.monotonic() - began >= 1.0
            log_in(bob, "bob", "bob's secret")
            sim.wait_ready(20)
            online = [("online", device_id) for device_id in device_ids]
            for page in (alice, bob):
                wait_screen(page, lambda s: "STOMP ▲ up" in s and "MQTT ▲ up" in s, 20, "links up")
                show_only(page, prefix)
                wait_screen(page, lambda s: list_rows(s) == online, 20, f"{device_ids} online")
            seats = server.wait_tabs(2, 10)
            names = {
                pid: [
                    item
                    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                    if item.startswith(b"MWM_SERVE_SEAT=")
                ]
                for pid in seats
            }
            assert sorted(names.values()) == [[b"MWM_SERVE_SEAT=alice"], [b"MWM_SERVE_SEAT=bob"]]

            # Alice orders the first truck; Bob's log shows it, signed by her.
            press(alice, "g")
            first = f"motion · {device_ids[0]} "
            wait_screen(alice, lambda s: first in s, 5, "the first truck selected")
            press(alice, "o")
            wait_screen(alice, lambda s: "esc Back" in s, 5, "the composer taking the keys")
            alice.keyboard.type("Depot 4")
            press(alice, "Enter")
            wait_screen(alice, lambda s: "Enter sends" in s, 5, "the order's review, ready")
            press(alice, "Enter")
            assert sim.wait_line("ORDER ", 20) == f"ORDER {device_ids[0]}: Depot 4"
            said = f"alice: order to {device_ids[0]} (Depot 4)"
            wait_screen(bob, lambda s: said in s, 20, "alice's order in bob's log")
            wait_screen(alice, lambda s: said in s, 5, "alice's order in her own log")
            assert alices.refused == [] and bobs.refused == []
        assert "login refused: 'bob' from 127.0.0.1 (1 wrong in a row)" in server.output
        assert_all_gone(server)
        assert sim.stop() == 0


def test_the_tab_past_max_seats_is_told_and_runs_nothing_until_a_seat_is_freed(
    tmp_path: Path, chromium_profile: Path
) -> None:
    arguments = ("--demo", "--devices", "3", "--max-seats", "2")
    env = serve_environment(tmp_path)
    with ServeProcess(tmp_path / "serve", free_port(), *arguments, env=env) as server:
        server.wait_listening()
        assert "2 seats at most, no login" in server.output
        with chromium(chromium_profile) as browser:
            first, second = browser.open(server.url), browser.open(server.url)
            for page in (first, second):
                wait_screen(page, lambda s: len(list_rows(s)) == 3, 20, "the 3 demo trucks")
            seats = server.wait_tabs(2, 10)
            third = browser.open(server.url)
            told = third.locator(".seats-full").inner_text()
            assert told == "Every seat is taken: this server runs 2 dashboards at most."
            time.sleep(1.0)  # a dashboard started for it would show by now
            assert server.tabs() == seats

            # A closed tab frees its seat and its process within seconds.
            first.close()
            deadline = time.monotonic() + 10
            while alive(seats[0]) and alive(seats[1]):
                assert time.monotonic() < deadline, "no dashboard ended with its tab"
                time.sleep(0.05)
            assert time.monotonic() < deadline
            third.reload()
            wait_screen(third, lambda s: len(list_rows(s)) == 3, 20, "the third tab's dashboard")
            assert len(server.wait_tabs(2, 10)) == 2
            wait_screen(second, lambda s: len(list_rows(s)) == 3, 5, "the second tab still live")
        assert_all_gone(server)
