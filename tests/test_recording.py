"""--record: what HQ received, exactly, as JSON lines; rotation; a file that cannot be opened."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import stomp
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.adapters.demo import DemoFleet, DemoMqttLink, DemoStompLink
from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.recording import (
    Recorder,
    RecordError,
    RecordReader,
    _as_record,
    _line,
    decode_payload,
    record_line,
)
from mwm_tui.adapters.replay import record_event
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.adapters.store import Store
from mwm_tui.commands.options import parser, settings_from
from mwm_tui.composition import create_app, tap_links
from mwm_tui.config import ConfigError, Settings, load_settings
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.codecs import Motion
from mwm_tui.domain.dispatch import Kind, Stage
from mwm_tui.domain.events import (
    Event,
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    WillReceived,
)
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.domain.targets import Protocol, parse_target
from mwm_tui.services.dispatcher import Dispatcher
from mwm_tui.ui.widgets.record_status import RecordStatus
from tests.support.brokers import ActiveMQ, Mosquitto
from tests.support.link_events import wait_until
from tests.support.sim import unique_prefix
from tests.support.ui import driven, log_text, wait_for

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_TEXT = '{"deviceID": "\x1b[31mX\u202e", "lat": 1, "lng": "\x00\x07"}'


def unzipped_lines_of(path: Path) -> list[dict[str, object]]:
    plain = path.with_suffix("")
    plain.write_bytes(gzip.decompress(path.read_bytes()))
    try:
        return lines_of(plain)
    finally:
        plain.unlink()


def lines_of(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    assert raw.isascii(), "the record file must be ASCII JSON"
    assert b"\x1b" not in raw and b"\x00" not in raw
    return [json.loads(line) for line in raw.decode("ascii").splitlines()]


def test_payloads_are_kept_exactly_as_text_or_base64(tmp_path: Path) -> None:
    path = tmp_path / "shift.jsonl"
    recorder = Recorder(path)
    motion = codecs.encode_motion(Motion(0.5, -1.25, 9.81))
    payloads = [motion, HOSTILE_TEXT.encode(), b"\xff\xfe\x00\x1b[2J", b""]
    for payload in payloads:
        recorder.message("MQTT", "/mwm/t1/motion", payload, True)
    recorder.message("STOMP", "/topic/device.\x1b]0;x\x07.location", b"{}", False)
    recorder.close()
    records = lines_of(path)
    assert [decode_payload(record) for record in records[:4]] == payloads
    assert "b64" in records[0] and "text" in records[1] and "b64" in records[2]
    assert records[0]["retained"] is True and "retained" not in records[4]
    assert records[4]["source"] == "/topic/device.\x1b]0;x\x07.location"
    assert recorder.written == 5 and recorder.dropped == 0


def test_rotation_keeps_the_newest_records_in_few_bounded_files(tmp_path: Path) -> None:
    path = tmp_path / "shift.jsonl"
    recorder = Recorder(path, max_bytes=4096, keep=3)
    total = 400
    for number in range(total):
        recorder.message("STOMP", f"/topic/device.r{number:04d}.location", b"x" * 40, False)
        if number % 50 == 0:
            time.sleep(0.15)  # the writer takes several batches, as it would in a shift
    recorder.close()
    assert recorder.rotations >= 3
    rotated = [Path(f"{path}.{n}.gz") for n in (3, 2, 1) if Path(f"{path}.{n}.gz").exists()]
    files = [*rotated, path]
    names = ["shift.jsonl.3.gz", "shift.jsonl.2.gz", "shift.jsonl.1.gz", path.name]
    assert [f.name for f in files] == names
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(names), "no plain or partial left"
    assert path.stat().st_size <= 4096
    assert all(len(gzip.decompress(f.read_bytes())) <= 4096 for f in rotated)
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}, "the owner's alone"
    numbers = [
        int(str(record["source"])[len("/topic/device.r") :][:4])
        for f in files
        for record in (lines_of(f) if f == path else unzipped_lines_of(f))
    ]
    assert numbers == list(range(total - len(numbers), total)), "newest records, in order"
    assert RecordReader.load(files).records[-1]["source"] == "/topic/device.r0399.location"


def test_a_full_queue_drops_and_counts_never_blocks(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.jsonl", queue_limit=10)
    started = time.perf_counter()
    for _ in range(20_000):
        recorder.message("MQTT", "/mwm/a/motion", b"0" * 24, False)
    spent = time.perf_counter() - started
    recorder.close()
    assert recorder.dropped > 0
    assert recorder.written + recorder.dropped == 20_000
    assert spent < 1.0, f"20,000 records took {spent:.2f} s to hand over"


def test_a_record_file_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="cannot open the record file"):
        Recorder(tmp_path / "no-such-dir" / "r.jsonl")
    result = subprocess.run(
        [sys.executable, "-m", "mwm_tui.cli", "--record", str(tmp_path / "nope" / "r.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"mwm-tui: error: cannot open the record file {tmp_path / 'nope' / 'r.jsonl'}: "
        "No such file or directory"
    ]


@pytest.fixture
def recorded_links(
    tmp_path: Path, activemq: ActiveMQ, mosquitto: Mosquitto
) -> Iterator[tuple[Path, Recorder, Dispatcher, EventInbox, StompLink, MqttLink]]:
    path = tmp_path / "shift.jsonl"
    recorder = Recorder(path)
    inbox = EventInbox()
    fast = Backoff(initial=0.1, maximum=1.0)
    stomp_link = StompLink(
        parse_target(activemq.url, Protocol.STOMP), inbox.put, backoff=fast.copy()
    )
    mqtt_link = MqttLink(parse_target(mosquitto.url, Protocol.MQTT), inbox.put, backoff=fast.copy())
    tap_links(recorder, stomp_link, mqtt_link)
    fleet = Fleet()
    dispatcher = Dispatcher(
        Store.memory(),
        stomp_link,
        mqtt_link,
        fleet,
        order_expiry=60,
        history_days=1,
        wall_clock=time.time,
        recorder=recorder,
    )
    stomp_link.start()
    mqtt_link.start()
    try:
        yield path, recorder, dispatcher, inbox, stomp_link, mqtt_link
    finally:
        stomp_link.stop()
        mqtt_link.stop()
        recorder.close()


def pump(
    inbox: EventInbox, dispatcher: Dispatcher, ups: set[LinkName], seen: list[Event] | None = None
) -> None:
    for event in inbox.drain(100_000):
        dispatcher.observe(event)
        if seen is not None:
            seen.append(event)
        if isinstance(event, LinkStateChanged) and event.state is LinkState.UP:
            ups.add(event.link)
    dispatcher.tick()


def test_what_the_brokers_delivered_is_in_the_file_exactly(
    recorded_links: tuple[Path, Recorder, Dispatcher, EventInbox, StompLink, MqttLink],
    activemq: ActiveMQ,
    mosquitto: Mosquitto,
) -> None:
    path, recorder, dispatcher, inbox, _, _ = recorded_links
    ups: set[LinkName] = set()
    wait_until(lambda: pump(inbox, dispatcher, ups) or len(ups) == 2, 30, "both links up")
    prefix = unique_prefix("rec")
    truck = f"{prefix}01"
    motion = codecs.encode_motion(Motion(0.25, -0.5, 9.75))
    mqtt_sent = [
        (ids.motion_topic(truck), motion),
        (ids.motion_topic(f"{prefix}02"), b"\xff\x00\x1b[2J not utf-8"),
        (ids.WILL_TOPIC, codecs.encode_will(truck)),
    ]
    before = time.time()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        for topic, payload in mqtt_sent:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    location = codecs.encode_location(codecs.Position(truck, 48.85, 2.35, None))
    stomp_sent = [
        (ids.location_destination(truck), location),
        (ids.location_destination(f"{prefix}03"), HOSTILE_TEXT.encode()),
    ]
    connection = stomp.Connection12([("127.0.0.1", activemq.port)])
    connection.connect(wait=True)
    try:
        for destination, body in stomp_sent:
            connection.send(destination, body)
    finally:
        connection.disconnect()
    order = dispatcher.submit(Kind.ORDER, truck, "go to depot \x1b[5m")
    alert = dispatcher.submit(Kind.ALERT, truck, "red")

    live: list[Event] = []

    def settled() -> bool:
        pump(inbox, dispatcher, ups, live)
        return dispatcher.outcomes[Stage.ACCEPTED] + dispatcher.outcomes[Stage.WAITING] >= 2

    wait_until(settled, 30, "order and alert settled")

    def all_written() -> list[dict[str, object]] | None:
        records = lines_of(path)
        sources = {(r.get("source"), r.get("kind")) for r in records}
        wanted = {(topic, "message") for topic, _ in mqtt_sent + stomp_sent}
        outcomes = [r for r in records if r["kind"] == "outcome"]
        return records if wanted <= sources and len(outcomes) >= 2 else None

    records = wait_until(all_written, 30, "everything in the record file")
    after = time.time()
    received = {(r["source"], decode_payload(r)): r for r in records if r["kind"] == "message"}
    for source, payload in mqtt_sent + stomp_sent:
        record = received[(source, payload)]
        assert record["link"] == ("MQTT" if source.startswith("/mwm/") else "STOMP")
        assert before <= float(str(record["at"])) <= after
    sent = [r for r in records if r["kind"] == "sent"]
    assert [(r["what"], r["device"], r["body"]) for r in sent] == [
        ("order", truck, "go to depot \x1b[5m"),
        ("alert", truck, "red"),
    ]
    assert {r["id"] for r in records if r["kind"] == "outcome"} >= {r["id"] for r in sent}
    assert {(r["link"], r["state"]) for r in records if r["kind"] == "link"} >= {
        ("STOMP", "up"),
        ("MQTT", "up"),
    }
    assert order.device_id == alert.device_id == truck
    assert recorder.dropped == 0
    # Replayed, the file gives what HQ decoded live from the brokers, message for message.
    mine = [r for r in records if r["kind"] == "message" and prefix in str(r["source"])]
    mine += [r for r in records if r["kind"] == "message" and r["source"] == ids.WILL_TOPIC]
    replayed = [decoded(record_event(r)) for r in mine]
    pump(inbox, dispatcher, ups, live)
    heard = [decoded(e) for e in live]
    assert sorted(d for d in replayed if prefix in d) == sorted(d for d in heard if prefix in d)
    assert len([d for d in heard if prefix in d]) == len(mqtt_sent + stomp_sent)


def decoded(event: Event | None) -> str:
    """What an event says, comparable across runs (a Position has no equality of its own)."""
    if isinstance(event, LocationReceived):
        fix = event.position
        return f"location {fix.device_id} {fix.lat} {fix.lng} {fix.raw_ts}"
    if isinstance(event, MotionReceived | WillReceived | MessageRejected):
        return repr(event)
    return "other"


def test_the_demo_fleet_is_recorded_like_a_broker(tmp_path: Path) -> None:
    path = tmp_path / "demo.jsonl"
    recorder = Recorder(path)
    inbox = EventInbox()
    fleet = DemoFleet(3, incidents=False)
    stomp_link, mqtt_link = DemoStompLink(fleet, inbox.put), DemoMqttLink(fleet, inbox.put)
    tap_links(recorder, stomp_link, mqtt_link)
    stomp_link.start()
    mqtt_link.start()
    try:
        wait_until(lambda: recorder.written >= 6, 20, "demo messages recorded")
    finally:
        stomp_link.stop()
        mqtt_link.stop()
        recorder.close()
    records = lines_of(path)
    links = {record["link"] for record in records}
    assert links == {"STOMP", "MQTT"}
    motions = [decode_payload(r) for r in records if str(r["source"]).endswith("/motion")]
    assert motions and all(len(payload) == 24 for payload in motions)


async def test_dropped_records_are_shown_on_screen_and_in_the_log(tmp_path: Path) -> None:
    path = tmp_path / "demo.jsonl"
    recorder = Recorder(path, queue_limit=1)  # the writer falls behind the demo at once
    app = create_app(Settings(demo=True, devices=20), tune_gc=False, recorder=recorder)
    async with driven(app) as pilot:
        await wait_for(pilot, lambda: recorder.dropped > 0, 10, "records dropped")
        await wait_for(
            pilot, lambda: "records dropped, the writer is behind" in log_text(app), 5, "log line"
        )
        line = app.query_one(RecordStatus).line().plain
        assert line.startswith("REC …") and f"{path.parent.name}/demo.jsonl  " in line
        assert "dropped (writer behind)" in line
    recorder.close()
    assert recorder.written == len(lines_of(path)) > 0, "what was taken is all in the file"


def test_record_is_a_flag_a_variable_and_a_config_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('record = "from-file.jsonl"\nrecord-max-mb = 5\n', encoding="utf-8")
    environ = {"MWM_CONFIG": str(config), "LANG": "C.UTF-8"}
    from_file = load_settings({}, environ)
    assert (from_file.record, from_file.record_max_mb) == ("from-file.jsonl", 5.0)
    from_env = load_settings({}, environ | {"MWM_RECORD": "env.jsonl", "MWM_RECORD_MAX_MB": "2"})
    assert (from_env.record, from_env.record_max_mb) == ("env.jsonl", 2.0)
    flags = settings_from(["--record", "flag.jsonl", "--record-max-mb", "0.5"])
    assert (flags.record, flags.record_max_mb) == ("flag.jsonl", 0.5)
    with pytest.raises(ConfigError, match="record-max-mb must be more than 0"):
        load_settings({"record_max_mb": 0}, environ)
    assert "--record FILE" in parser().format_help()


def test_a_record_reads_in_time_order_across_files_and_counts_bad_lines(tmp_path: Path) -> None:
    older, newer = tmp_path / "r.jsonl.1", tmp_path / "r.jsonl"
    older.write_text(
        '{"at":3.5,"kind":"link","link":"MQTT","state":"up","detail":""}\n'
        "not json at all\n"
        '{"kind":"link","at":1e0,"link":"STOMP","state":"up","detail":""}\n'  # keys reordered
        '{"at":"noon"}\n',
        encoding="ascii",
    )
    newer.write_text('{"at":2,"kind":"message", broken\n\n[1, 2]\n', encoding="ascii")
    reader = RecordReader.load([newer, older])
    records = reader.records
    assert records.times == [1.0, 2.0, 3.5]
    assert [r["kind"] for r in records] == ["link", "unreadable", "link"]
    assert records[0]["link"] == "STOMP" and records[-1]["link"] == "MQTT"
    assert reader.bad_lines == 3  # "not json at all", the time "noon" and the list
    assert [r["at"] for r in records[1:]] == [2, 3.5]


def test_a_record_json_cannot_hold_is_counted_and_the_writer_goes_on(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.jsonl")
    recorder.message("STOMP", "/topic/x", b"1", False, {"odd": b"\xff"})  # type: ignore[dict-item]
    recorder.message("STOMP", "/topic/device.s.location", "a str body", False, None)  # type: ignore[arg-type]
    recorder.close()
    assert (recorder.written, recorder.dropped) == (1, 1)
    assert decode_payload(lines_of(tmp_path / "r.jsonl")[0]) == b"a str body"


@pytest.mark.parametrize(
    "payload", [b"", b"{}", HOSTILE_TEXT.encode(), b"\xff\x00", "\u202e\ud7ff".encode()]
)
@pytest.mark.parametrize("source", ["/mwm/a/motion", '/topic/device."\\\x1b.location', "\udcff"])
def test_a_message_line_is_the_json_of_its_record(payload: bytes, source: str) -> None:
    for retained in (False, True):
        item = ("message", 1764511200.1234567, "MQTT", source, payload, retained, None)
        line = _line(item)
        assert line.endswith("\n") and line.isascii() and "\n" not in line[:-1]
        assert json.loads(line) == _as_record(item) == json.loads(record_line(_as_record(item)))


def test_a_file_that_cannot_be_written_is_said_once_and_nothing_more_is_lost_silently() -> None:
    recorder = Recorder("/dev/full", append=True)  # opens, and every write fails: no space left
    recorder.message("MQTT", "/mwm/a/motion", b"0" * 24, False)
    wait_until(lambda: recorder.error is not None, 10, "the write error")
    for _ in range(5):
        recorder.message("MQTT", "/mwm/a/motion", b"0" * 24, False)
    recorder.close()
    assert recorder.error == "cannot write the record file /dev/full: No space left on device"
    assert recorder.written == 0 and recorder.dropped == 6
