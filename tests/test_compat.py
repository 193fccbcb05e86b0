"""The dependencies' private parts: each one there as the project uses it, named when it is not,
and the public path taken when it is gone.

An upgrade of textual, paho-mqtt, stomp.py or plotext that moves a part fails the first group
of tests here with the part's name; the second group shows what the dashboard does then.
"""

from __future__ import annotations

import json
import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import plotext
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import RichLog

from mwm_tui.adapters.mqtt_client import BufferedClient
from mwm_tui.adapters.stomp_connection import new_stomp_connection
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.adapters.stomp_session import SessionListener, StompSession
from mwm_tui.compat import paho as paho_parts
from mwm_tui.compat import plotext as plotext_parts
from mwm_tui.compat import stomp as stomp_parts
from mwm_tui.compat import textual as textual_parts
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.events import LocationReceived
from mwm_tui.domain.geo import Viewport
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.domain.targets import Protocol, parse_target
from mwm_tui.ui import crop_updates, map_base, update_culling
from mwm_tui.ui.map_render import Marker, render_map
from tests.support.links import recording_links
from tests.support.ui import driven, log_rewraps_every_entry

ROOT = Path(__file__).resolve().parents[1]
# Private names of the four dependencies the project touches: only mwm_tui/compat names them.
PRIVATE_NAMES = re.compile(
    r"textual\._[a-z]|plotext\._|_BaseTransport__|_sock_recv|_sock_send|\._in_packet"
    r"|\._msgtime_mutex|\._last_bytes_received|_call_socket_register_write|\._dirty_regions"
    r"|\._visible_widgets|\._line_cache|\._widest_line_width|\._size_known|\._next_marker"
    r"|\._signals\._add|\._pointer\b"
)


def test_no_module_outside_compat_names_a_private_part_of_a_dependency() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "mwm_tui").rglob("*.py"))
        if "compat" not in path.relative_to(ROOT / "mwm_tui").parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRIVATE_NAMES.search(line)
    ]
    assert found == [], "private parts named outside mwm_tui/compat:\n" + "\n".join(found)


# Each private part is there, as the project uses it


def test_textual_chops_update_takes_chops_spans_and_chop_ends() -> None:
    problem = textual_parts.chops_update_problem()
    assert problem is None, problem


def test_textual_compositor_has_the_partial_update_parts_culling_uses() -> None:
    problem = textual_parts.partial_update_problem()
    assert problem is None, problem


def test_textual_widget_keeps_its_dirty_regions_in_a_set() -> None:
    problem = textual_parts.dirty_regions_problem(Widget())
    assert problem is None, problem


def test_textual_rich_log_has_the_fields_the_event_log_writes() -> None:
    problem = textual_parts.rich_log_problem(RichLog())
    assert problem is None, problem


def test_plotext_has_the_kernel_marker_and_signal_parts_of_the_fast_path() -> None:
    problem = plotext_parts.fast_path_problem()
    assert problem is None, problem


def test_plotext_figure_has_the_marker_cycler_and_signal_list_the_fast_path_uses() -> None:
    problem = plotext_parts.figure_problem(plotext.figure)
    assert problem is None, problem


def test_paho_client_has_the_socket_hooks_and_fields_buffered_reads_use() -> None:
    problem = paho_parts.hooks_problem()
    assert problem is None, problem


def test_stomp_receiver_loop_calls_the_frame_reader_the_transport_takes_over() -> None:
    problem = stomp_parts.read_hook_problem()
    assert problem is None, problem


# Without them: the public path


def test_a_gone_compositor_leaves_textual_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textual_parts, "COMPOSITOR_MODULE", "textual._gone_compositor")
    assert textual_parts.chops_update_problem() == (
        "textual._gone_compositor.ChopsUpdate.__init__ is gone"
    )
    assert textual_parts.partial_update_problem() == "textual._gone_compositor.Compositor is gone"
    assert not crop_updates.install()
    assert not update_culling.install()


def test_a_widget_without_a_set_of_dirty_regions_is_left_to_textual() -> None:
    widget = Widget()
    kept = [Region(0, 0, 3, 1)]
    widget._dirty_regions = kept  # type: ignore[assignment]
    assert textual_parts.dirty_regions_problem(widget) == (
        "textual.widget.Widget._dirty_regions is gone or no longer a set"
    )
    textual_parts.forget_dirty_regions(widget)
    assert widget._dirty_regions == [Region(0, 0, 3, 1)]


def test_a_rich_log_without_its_fields_is_written_through_its_public_api() -> None:
    log = RichLog()
    del log._widest_line_width
    assert textual_parts.rich_log_problem(log) == (
        "textual.widgets.RichLog._widest_line_width is gone or no longer an int"
    )
    assert not textual_parts.size_known(log)
    assert not textual_parts.prepend_strips(log, [Strip.blank(3)])
    assert log.lines == []


async def test_the_event_log_rewraps_every_line_without_rich_logs_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(textual_parts, "rich_log_problem", lambda log: "RichLog changed")
    app = create_app(Settings(), links=recording_links, tune_gc=False)
    async with driven(app, (200, 60)) as pilot:
        await log_rewraps_every_entry(pilot, app)
        log = app.event_log
        widest = max(len(strip.text.rstrip()) for strip in log.lines)
        assert widest <= log.scrollable_content_region.width


@pytest.fixture
def plotext_parts_checked_again() -> Iterator[None]:
    plotext_parts.fast_path_problem.cache_clear()
    plotext_parts._fast_parts.cache_clear()
    map_base.clear_caches()
    yield
    plotext_parts.fast_path_problem.cache_clear()
    plotext_parts._fast_parts.cache_clear()
    map_base.clear_caches()


@pytest.mark.usefixtures("plotext_parts_checked_again")
def test_a_gone_plotext_kernel_draws_the_same_map_through_plotexts_public_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = Viewport.around(2.35, 48.86, 4.0, 3.0)
    markers = [
        Marker(f"t{i}", view.centre[0] + i * 0.05, view.centre[1] + (i % 3) * 0.04, status)
        for i, status in enumerate(["online"] * 8 + ["stale", "offline", "unknown"])
    ]
    markers.append(Marker("sel", 2.0, 48.5, "online", True))
    trail = [(1.5 + i * 0.1, 48.2 + i * 0.05) for i in range(6)]
    fast = render_map(120, 40, view, markers, trail=trail)
    gone = (("plotext._kernel.gone", "clink", ()), *plotext_parts._PARTS[1:])
    monkeypatch.setattr(plotext_parts, "_PARTS", gone)
    plotext_parts.fast_path_problem.cache_clear()
    map_base.clear_caches()
    assert plotext_parts.fast_path_problem() == "plotext._kernel.gone.clink is gone"
    public = render_map(120, 40, view, markers, trail=trail)
    assert (public.plain, public.spans) == (fast.plain, fast.spans)


def test_a_figure_without_its_signal_list_is_drawn_on_through_fig_draw() -> None:
    class Figure:
        def __init__(self) -> None:
            self.drawn: list[object] = []

        def draw(self, signal: object) -> None:
            self.drawn.append(signal)

    figure = Figure()
    assert plotext_parts.figure_problem(figure) == "plotext figure._next_marker is gone"
    plotext_parts.put(figure, "signal")
    assert figure.drawn == ["signal"]


def publish(topic: bytes, payload: bytes) -> bytes:
    body = struct.pack(">H", len(topic)) + topic + payload
    return bytes([0x30, len(body)]) + body


@pytest.fixture
def paho_parts_checked_again() -> Iterator[None]:
    paho_parts.hooks_problem.cache_clear()
    yield
    paho_parts.hooks_problem.cache_clear()


@pytest.mark.usefixtures("paho_parts_checked_again")
@pytest.mark.parametrize("hooks", ["present", "changed"])
def test_paho_reads_the_same_publishes_with_or_without_its_hooks(
    hooks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if hooks == "changed":
        changed = (("_sock_recv", ["self", "bufsize", "flags"]), *paho_parts._METHODS[1:])
        monkeypatch.setattr(paho_parts, "_METHODS", changed)
        assert paho_parts.hooks_problem() == (
            "paho.mqtt.client.Client._sock_recv takes ['self', 'bufsize'], "
            "not ['self', 'bufsize', 'flags']"
        )
    client = BufferedClient(CallbackAPIVersion.VERSION2, client_id="hooks-test")
    assert client.hooked is (hooks == "present")
    received: list[tuple[str, bytes]] = []
    client.on_message = lambda _c, _u, message: received.append((message.topic, message.payload))
    taken: list[tuple[bytes, bytes, bool]] = []
    ours, theirs = socket.socketpair()
    try:
        client._sock = ours
        theirs.sendall(publish(b"/mwm/A/motion", b"x" * 24) + publish(b"/mwm/B/motion", b"y"))
        while len(received) + len(taken) < 2:
            assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
            client.take_publishes(lambda *packet: taken.append(packet))
    finally:
        client._sock = None
        ours.close()
        theirs.close()
    if hooks == "present":
        # paho read the first packet; the second lay whole in the buffer and was taken.
        assert received == [("/mwm/A/motion", b"x" * 24)]
        assert taken == [(b"/mwm/B/motion", b"y", False)]
        assert client.bytes_read == len(publish(b"/mwm/A/motion", b"x" * 24)) + 18
    else:
        assert received == [("/mwm/A/motion", b"x" * 24), ("/mwm/B/motion", b"y")]
        assert taken == [] and client.bytes_read == 0


@pytest.fixture
def stomp_parts_checked_again() -> Iterator[None]:
    stomp_parts.read_hook_problem.cache_clear()
    yield
    stomp_parts.read_hook_problem.cache_clear()


@pytest.mark.usefixtures("stomp_parts_checked_again")
@pytest.mark.parametrize("hook", ["present", "gone"])
def test_stomp_locations_arrive_with_or_without_the_frame_reader_hook(
    hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if hook == "gone":
        monkeypatch.setattr(stomp_parts, "_IO_LOOP", "_BaseTransport__gone_loop")
        assert stomp_parts.read_hook_problem() == (
            "stomp.transport.BaseTransport.__io_loop is gone or no longer calls __read_frames"
        )
    inbox = EventInbox()
    target = parse_target("stomp://127.0.0.1:61613", Protocol.STOMP)
    link = StompLink(target, inbox.put)
    connection = new_stomp_connection(target, (0, 0), 1.0, link.handle_rejected_frame)
    listener = SessionListener(link, StompSession(subscription_receipt="sub"))
    connection.set_listener("mwm-tui", listener)
    transport = connection.transport
    assert transport.hooked is (hook == "present")
    link.take_reads(transport)
    body = json.dumps({"deviceID": "AAA", "lat": 48.0, "lng": 2.0}).encode()
    frame = b"MESSAGE\ndestination:/topic/device.AAA.location\nsubscription:s\nmessage-id:m\n"
    frame += b"content-length:%d\n\n%s\x00" % (len(body), body)
    ours, theirs = socket.socketpair()
    try:
        transport.socket, transport.running = ours, True
        theirs.sendall(frame)
        transport._BaseTransport__read_frames()
    finally:
        transport.running = False
        ours.close()
        theirs.close()
    received = inbox.drain(10)
    assert [type(event) for event in received] == [LocationReceived]
    assert isinstance(received[0], LocationReceived) and received[0].position.device_id == "AAA"
