"""20,000 generated hostile payloads and ids through the decoders and the fleet (100,000 in the
slow run), the first 10,000 of them also through the app's inbox and the screen.

A seeded generator for speed: every message must become exactly one event, every reject be
counted exactly once (in the fleet and through the app's inbox), and nothing from the network
may reach the terminal as markup or a control character.
"""

from __future__ import annotations

import json
import math
import random
import struct
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain import ids
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    Event,
    LinkName,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    WillReceived,
)
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.messages import location_event, mqtt_event
from mwm_tui.domain.text import literal
from mwm_tui.ui.screens import DeviceDetail
from tests.support.links import recording_links
from tests.support.ui import driven, list_text, log_text, screen_text, wait_for

# Past the first 10,000 the fleet is full and every kind of message has come many times over.
MESSAGES = 20_000
SLOW_MESSAGES = 100_000
# Through the app: enough to fill the fleet and reach every reject reason (asserted below).
APP_MESSAGES = 10_000
SEED = 2026
CAP = 1_000
HOSTILE_IDS = [
    "[bold]x[/bold]",
    "[red]",
    "[link=http://evil]click[/link]",
    "\x1b[31mred",
    "\x1b]0;title\x07",
    "\x1b[2J",
    "\u202egnp.exe",
    "\u200f\u2066rtl\u2069",
    "L" * 128,
    "nul\x00id",
    "tab\tid",
    "new\nline",
    "cr\rid",
    "truck🚚",
    "e\u0301",
    "\ud800",
    "M?x=y",
    "a,b",
    "*",
    " ",
    "\u00a0",
    "\ufeffbom",
    "\u0085nel",
]
BAD_IDS = ["", "L" * 129, "x" * 5000]
# What a terminal acts on: C0/C1 controls, ESC, bidi and other format characters.
ACTIVE = {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}


def random_id(rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.3:
        return rng.choice(HOSTILE_IDS)
    if choice < 0.33:
        return rng.choice(BAD_IDS)
    length = rng.randint(1, 40)
    if choice < 0.7:
        return "".join(rng.choice("abcdefghXYZ0123456789-_") for _ in range(length))
    return "".join(
        chr(rng.choice((rng.randint(0, 0x7F), rng.randint(0, 0x2FFFF)))) for _ in range(length)
    )


def number(rng: random.Random, limit: float) -> object:
    return rng.choice(
        [
            rng.uniform(-limit, limit),
            rng.uniform(-limit, limit),
            rng.uniform(-limit, limit),
            limit * 2,
            -limit - 0.001,
            float("nan"),
            float("inf"),
            10**400,
            True,
            None,
            "12.5",
            [1.0],
            {"x": 1},
            rng.randint(-1000, 1000),
        ]
    )


def json_bytes(rng: random.Random, value: object) -> bytes:
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


def body_for(rng: random.Random, device_id: str) -> bytes:
    """A location or will body: well-formed, mistyped, truncated, or not JSON at all."""
    choice = rng.random()
    obj: dict[str, object] = {
        "deviceID": device_id,
        "lat": rng.uniform(-90, 90),
        "lng": rng.uniform(-180, 180),
    }
    if rng.random() < 0.5:
        obj["ts"] = rng.choice(["2014-03-05T10:12:00Z", "2014-3-5 10:12", "nonsense", 12, None])
    if choice < 0.5:
        return json_bytes(rng, obj)
    if choice < 0.7:
        field = rng.choice(["deviceID", "lat", "lng"])
        obj[field] = number(rng, 90.0) if field != "deviceID" else rng.choice([1, None, []])
        if rng.random() < 0.2:
            del obj[field]
        return json_bytes(rng, obj)
    if choice < 0.8:
        whole = json_bytes(rng, obj)
        return whole[: rng.randint(0, len(whole))]
    if choice < 0.9:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 48)))
    if choice < 0.999:
        return rng.choice([b"[]", b"1", b'"x"', b"null", b"{", b"\xff\xfe", b"[" * 50_000])
    return b" " * (64 * 1024 + 1)


def motion_payload(rng: random.Random) -> bytes:
    choice = rng.random()
    if choice < 0.6:
        return struct.pack(">ddd", *(rng.uniform(-4, 4) for _ in range(3)))
    if choice < 0.75:
        return struct.pack(">ddd", rng.uniform(-4, 4), float("nan"), float("-inf"))
    if choice < 0.9:
        return bytes(rng.getrandbits(8) for _ in range(24))
    return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 23, 25, 48, 200])))


def message(rng: random.Random, device_id: str) -> Event:
    """One generated message, decoded as a link decodes it."""
    kind = rng.random()
    if kind < 0.45:
        destination = f"/topic/device.{device_id}.location"
        if rng.random() < 0.05:
            destination = rng.choice(["/topic/device..location", "/queue/x", destination + "x"])
        body_id = device_id if rng.random() < 0.9 else random_id(rng)
        return location_event(destination, body_for(rng, body_id))
    if kind < 0.9:
        topic = f"/mwm/{device_id}/motion"
        if rng.random() < 0.05:
            topic = rng.choice(["/mwm//motion", "/mwm/a/b/motion", ids.HQ_WILL_TOPIC, "/mwm/x"])
        return mqtt_event(topic, motion_payload(rng), rng.random() < 0.2)
    return mqtt_event(ids.WILL_TOPIC, body_for(rng, device_id), rng.random() < 0.1)


def generated(count: int) -> Iterator[Event]:
    rng = random.Random(SEED)
    # Every hostile id that can be decoded is known first, so the screen has them to show.
    for device_id in HOSTILE_IDS:
        yield mqtt_event(f"/mwm/{device_id}/motion", struct.pack(">ddd", 0.1, 0.2, 0.3))
    for _ in range(count - len(HOSTILE_IDS)):
        yield message(rng, random_id(rng))


class Expected:
    """What the fleet must count, worked out independently of it."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.known: set[str] = set()
        # Ids known from retained motion alone, oldest first: live data evicts them when full.
        self.hearsay: dict[str, None] = {}
        self.accepted: Counter[LinkName] = Counter()
        self.rejected: Counter[LinkName] = Counter()
        self.reasons: Counter[RejectReason] = Counter()

    def see(self, event: Event) -> None:
        if isinstance(event, MessageRejected):
            self.rejected[event.link] += 1
            self.reasons[event.reason] += 1
            return
        link = LinkName.STOMP if isinstance(event, LocationReceived) else LinkName.MQTT
        if isinstance(event, WillReceived):
            self.accepted[link] += 1  # weighed, never a new device nor refused
            return
        device_id = (
            event.position.device_id if isinstance(event, LocationReceived) else event.device_id
        )
        live = not (isinstance(event, MotionReceived) and event.retained)
        if device_id not in self.known:
            if len(self.known) >= self.cap:
                if not (live and self.hearsay):
                    self.rejected[link] += 1
                    self.reasons[RejectReason.DEVICE_LIMIT] += 1
                    return
                evicted = next(iter(self.hearsay))
                del self.hearsay[evicted]
                self.known.discard(evicted)
            if not live:
                self.hearsay[device_id] = None
        if live:
            self.hearsay.pop(device_id, None)
        self.known.add(device_id)
        self.accepted[link] += 1


def check_event(event: Event) -> None:
    """Each message is one event of a fleet kind, and an accepted one holds only sane values."""
    assert isinstance(event, LocationReceived | MotionReceived | WillReceived | MessageRejected)
    if isinstance(event, LocationReceived):
        position = event.position
        assert math.isfinite(position.lat) and -90 <= position.lat <= 90
        assert math.isfinite(position.lng) and -180 <= position.lng <= 180
        assert 0 < len(position.device_id) <= ids.MAX_ID_LENGTH
    elif isinstance(event, MotionReceived):
        assert all(math.isfinite(value) for value in event.motion)
    if not isinstance(event, MessageRejected):
        shown = literal(
            event.position.device_id if isinstance(event, LocationReceived) else event.device_id
        )  # type: ignore[union-attr]
        assert not ACTIVE & set(shown)
        assert not any(unicodedata.category(char) == "Cf" for char in shown)


Corpus = tuple[list[Event], Expected]


def make_corpus(count: int) -> Corpus:
    """``count`` generated messages, each checked, and what the fleet must count of them."""
    events = list(generated(count))
    expected = Expected(CAP)
    for event in events:
        check_event(event)
        expected.see(event)
    return events, expected


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    """The generated messages, made once for both tests (the events are frozen, ``Expected`` is
    only read)."""
    return make_corpus(MESSAGES)


def fleet_counts_each_once(corpus: Corpus, count: int) -> None:
    events, expected = corpus
    assert len(events) == count
    fleet = Fleet(clock=lambda: 0.0, max_devices=CAP)
    fleet.apply_all(events)
    assert fleet.rejected == expected.rejected
    assert fleet.rejects_by_reason == expected.reasons
    assert fleet.accepted == expected.accepted
    assert sum(fleet.rejected.values()) + sum(fleet.accepted.values()) == count
    # The generator reaches every way of being refused, and the cap.
    # Malformed frames are refused before decoding: tests/test_stomp_frames.py covers them.
    assert set(fleet.rejects_by_reason) == set(RejectReason) - {RejectReason.MALFORMED_FRAME}
    assert len(fleet.devices) == CAP


def test_every_generated_message_is_one_event_and_every_reject_is_counted_once(
    corpus: Corpus,
) -> None:
    fleet_counts_each_once(corpus, MESSAGES)


@pytest.mark.slow
def test_every_one_of_100_000_messages_is_one_event_and_every_reject_is_counted_once() -> None:
    fleet_counts_each_once(make_corpus(SLOW_MESSAGES), SLOW_MESSAGES)


async def test_hostile_events_through_the_app_render_as_plain_text_and_count_once(
    tmp_path: Path, corpus: Corpus
) -> None:
    events = corpus[0][:APP_MESSAGES]
    expected = Expected(CAP)
    for event in events:
        expected.see(event)
    # The prefix holds every way of being refused, and fills the fleet.
    assert set(expected.reasons) == set(RejectReason) - {RejectReason.MALFORMED_FRAME}
    assert len(expected.known) == CAP
    settings = Settings(max_devices=CAP, data_dir=str(tmp_path))
    app = create_app(settings, links=recording_links, tune_gc=False)
    async with driven(app, size=(160, 50)) as pilot:
        inbox = app.inbox
        for start in range(0, len(events), 5_000):
            for event in events[start : start + 5_000]:
                inbox.put(event)
            await wait_for(pilot, lambda: inbox.stats().pending == 0, 60, "the inbox drained")
        fleet = app.fleet
        assert fleet.rejected == expected.rejected
        assert fleet.rejects_by_reason == expected.reasons
        assert fleet.accepted == expected.accepted
        await pilot.pause(1.2)  # a status bar and reject summary tick with the final counts
        frames = [screen_text(app)]
        for sort_key in range(4):
            app.device_list.sync(force=True)
            await pilot.pause()
            frames.append(list_text(app))
            app.action_sort_next()
            del sort_key
        shown_ids = [device_id for device_id in HOSTILE_IDS if device_id in fleet.devices]
        assert len(shown_ids) > 15
        for device_id in shown_ids:
            app.device_list.set_filter(device_id)
            app.device_list.select(device_id)
            app.event_log.filter_to(device_id)
            await pilot.pause()
            frames.append(screen_text(app))
            await app.push_screen(DeviceDetail(fleet, app.dispatcher, device_id))
            await pilot.pause()
            frames.append(screen_text(app))
            app.pop_screen()
        app.device_list.set_filter("")
        app.event_log.filter_to(None)
        await pilot.pause()
        frames.append(screen_text(app))
        for frame in frames:
            assert not ACTIVE - {"\n"} & set(frame), "a control character reached the screen"
            assert not any(unicodedata.category(char) == "Cf" for char in frame)
        everything = "\n".join(frames)
        # Markup in an id is shown as the text it is, never applied.
        assert "[bold]x[/bold]" in everything
        assert "\\x1b[31mred" in everything
        assert "device limit" in everything
        assert "\x1b" not in log_text(app)
