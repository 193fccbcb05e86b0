"""``mwm-tui serve`` in a real headless Chromium: the page is the dashboard, its keys send orders.

The screen is read from the page through xterm.js's own buffer (the cells it paints on its
canvas): a script run before the page's code catches textual.js's Terminal object as it is
made; ``tests/support/browser.py`` explains how.
Every test stops the server and the browser and checks that no process of theirs is left.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from playwright.sync_api import Page

from tests.support.brokers import ActiveMQ, Mosquitto, free_port
from tests.support.browser import Browser, ServeProcess, alive, chromium, screen, wait_screen
from tests.support.sim import Sim, fleet_ids, send_marker_orders, unique_prefix


def serve_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This test's environment: no personal config, no MWM_* or driver from outside."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("MWM_") and name != "TEXTUAL_DRIVER"
    }
    env["MWM_CONFIG"] = os.devnull
    return env | extra


def list_rows(text: str) -> list[tuple[str, str]]:
    """(status, id) of each device list row on screen, top to bottom."""
    return re.findall(r"^│. (online|stale|offline)\s+(\S+)", text, re.MULTILINE)


def assert_all_gone(server: ServeProcess) -> None:
    status = server.stop()
    assert status == 0, f"mwm-tui serve exited with {status}: {server.output}"
    assert not alive(server.proc.pid)
    assert server.seen, "no tab process was ever seen"
    left = server.left_running()
    assert not left, f"processes of the server left after it stopped: {left}"
    assert "Traceback" not in server.output, server.output


def press(page: Page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def test_a_browser_tab_orders_the_selected_truck_through_real_brokers(
    tmp_path: Path, chromium_profile: Path, activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    began = time.monotonic()
    prefix = unique_prefix("web")
    device_ids = fleet_ids(prefix, 3)
    brokers = ("--stomp", activemq.url, "--mqtt", mosquitto.url)
    env = serve_environment(tmp_path)
    with (
        Sim(activemq.url, mosquitto.url, tmp_path, "--devices", "3", "--prefix", prefix) as sim,
        ServeProcess(tmp_path / "serve", free_port(), *brokers, env=env) as server,
    ):
        server.wait_listening()
        with chromium(chromium_profile) as browser:
            page = browser.open(server.url)
            wait_screen(page, lambda s: "STOMP ▲ up" in s and "MQTT ▲ up" in s, 20, "links up")
            sim.wait_ready(20)
            Browser.focus(page)
            # Only this test's trucks: the session brokers keep other tests' retained motion.
            page.keyboard.type("/")
            wait_screen(page, lambda s: "esc Clear" in s, 5, "the filter field")
            page.keyboard.type(prefix)
            press(page, "Enter")
            online = [("online", device_id) for device_id in device_ids]
            wait_screen(page, lambda s: list_rows(s) == online, 20, f"{device_ids} online")

            press(page, "g")
            wait_screen(page, lambda s: f"motion · {device_ids[0]} " in s, 5, "the first truck")
            press(page, "j")
            target = device_ids[1]
            wait_screen(page, lambda s: f"motion · {target} " in s, 5, f"{target} selected")
            press(page, "o")
            wait_screen(page, lambda s: "esc Back" in s, 5, "the composer taking the keys")
            page.keyboard.type("Where are you heading to?")
            press(page, "Enter")
            wait_screen(page, lambda s: "Enter sends" in s, 5, "the order's review, ready")
            press(page, "Enter")

            line = sim.wait_line("ORDER ", 20)
            assert line == f"ORDER {target}: Where are you heading to?"
            wait_screen(page, lambda s: "accepted by the broker" in s, 15, "the broker's receipt")
            # Queues are FIFO: once every other truck printed a later marker, none had a copy.
            others = [device_id for device_id in device_ids if device_id != target]
            send_marker_orders(activemq.url, others)
            deadline = time.monotonic() + 20
            while len(sim.lines("ORDER ")) < len(device_ids):
                assert time.monotonic() < deadline, f"markers missing: {sim.out}"
                time.sleep(0.05)
            orders = [line for line in sim.lines("ORDER ") if not line.endswith(": marker")]
            assert orders == [f"ORDER {target}: Where are you heading to?"]
            assert len(server.tabs()) == 1
            assert browser.refused == [], "the page asked another site for something"
        assert_all_gone(server)
        assert sim.stop() == 0
    assert time.monotonic() - began < 60


def test_two_tabs_are_two_dashboards_with_the_same_options_and_secrets_off_every_command_line(
    tmp_path: Path,
    chromium_profile: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('mqtt_password = "file-secret-7f3a"\n')
    config.chmod(0o600)
    env = serve_environment(tmp_path, MWM_STOMP_PASSWORD="env-secret-91c2", MWM_CONFIG=str(config))
    with ServeProcess(
        tmp_path / "serve", free_port(), "--demo", "--devices", "4", env=env
    ) as server:
        server.wait_listening()
        with chromium(chromium_profile) as browser:
            first, second = browser.open(server.url), browser.open(server.url)
            for page in (first, second):
                wait_screen(page, lambda s: len(list_rows(s)) == 4, 20, "the 4 demo trucks")
                wait_screen(page, lambda s: "motion · truck-01 " in s, 5, "truck-01 selected")
            tabs = server.tabs()
            assert len(tabs) == 2, tabs

            # A key in one tab moves that tab's selection only.
            Browser.focus(first)
            press(first, "j")
            wait_screen(first, lambda s: "motion · truck-02 " in s, 5, "truck-02 in tab 1")
            time.sleep(0.5)  # a wrongly shared app would have repainted tab 2 by now
            wait_screen(second, lambda s: "motion · truck-01 " in s, 1, "truck-01 still in tab 2")

            # The options and both passwords reached each tab by its environment alone.
            for pid in [server.proc.pid, *tabs]:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes()
                assert b"secret" not in argv, argv
            for pid in tabs:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                assert b"MWM_STOMP_PASSWORD=env-secret-91c2" in environ
                assert b"MWM_MQTT_PASSWORD=file-secret-7f3a" in environ
                assert b"MWM_DEVICES=4" in environ
                assert b"MWM_DEMO=1" in environ

            # Closing a tab ends its dashboard; the other goes on.
            first.close()
            deadline = time.monotonic() + 10
            while (left := server.tabs()) != [tabs[1]] and tabs[0] in left:
                assert time.monotonic() < deadline, f"tab 1's dashboard still runs: {left}"
                time.sleep(0.05)
            # Off the server's list, the process may still be on its way out.
            while alive(tabs[0]):
                assert time.monotonic() < deadline, f"tab 1's dashboard {tabs[0]} never ended"
                time.sleep(0.05)
            assert alive(tabs[1])
            wait_screen(second, lambda s: len(list_rows(s)) == 4, 5, "tab 2 still live")
        assert_all_gone(server)


def test_with_brokers_a_second_tab_is_a_dashboard_of_the_same_team(
    tmp_path: Path, chromium_profile: Path, activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    brokers = ("--stomp", activemq.url, "--mqtt", mosquitto.url)
    env = serve_environment(tmp_path)
    with ServeProcess(tmp_path / "serve", free_port(), *brokers, env=env) as server:
        server.wait_listening()
        with chromium(chromium_profile) as browser:
            first = browser.open(server.url)
            links_up = "both links up"
            wait_screen(first, lambda s: "STOMP ▲ up" in s and "MQTT ▲ up" in s, 20, links_up)
            # One outbox for the team: the second tab's dashboard follows the first's.
            second = browser.open(server.url)
            wait_screen(second, lambda s: "STOMP ▲ up" in s and "MQTT ▲ up" in s, 20, links_up)
            wait_screen(second, lambda s: "dashboard sends" in s, 10, "following the first tab")
            old = server.wait_tabs(2, 10)
            # A reload ends the first tab's dashboard: the second takes the lead.
            first.reload()
            wait_screen(first, lambda s: "STOMP ▲ up" in s and "MQTT ▲ up" in s, 20, links_up)
            # Whichever dashboard took the lead, exactly one of the two follows the other.
            deadline = time.monotonic() + 10
            while sum("dashboard sends" in screen(tab) for tab in (first, second)) != 1:
                assert time.monotonic() < deadline, "not one leader and one follower"
                time.sleep(0.1)
            new = server.wait_tabs(2, 10)
            assert new != old, (old, new)
        assert_all_gone(server)
