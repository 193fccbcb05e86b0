"""The benchmark report: verdicts, the stdout table and ``benchmarks/RESULTS.md``."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHAOS_HEADING = "## 6. Chaos: orders and alerts while the brokers are killed"
CHAOS_VERDICT = "lost while each broker is killed 3 times"
RESULTS_FILE = Path(__file__).resolve().parent / "RESULTS.md"
SCREEN = "120x40"
WARM_UP_S = 5.0
# The soak: an hour; a shorter one is the quick mode.
FULL_SOAK_MINUTES = 60.0
CEILINGS = "paho ~83k msg/s, stomp.py ~32-36k msg/s (BROKERS.md: bare clients, idle machine)"


@dataclass
class Plan:
    """What one run measures; the defaults are the brief's numbers."""

    devices: int = 1_000
    mqtt_messages: int = 200_000
    stomp_messages: int = 100_000
    reps: int = 5
    untuned_runs: int = 2
    publishers: int = 2
    latency_rate: int = 10_000
    latency_runs: int = 2
    presses: int = 200
    press_spacing: float = 0.05
    first_paint_runs: int = 5
    rss_fleets: tuple[int, ...] = (0, 1_000, 10_000)
    chaos_count: int = 1_000
    chaos_rounds: int = 3
    chaos_spacing: float = 0.05
    terminal_seconds: float = 60.0
    trucks: int = 1_000
    soak_minutes: float = 60.0
    fleet_sizes: tuple[int, ...] = (1_000, 3_000, 10_000)
    fleet_seconds: float = 60.0


Run = dict[str, Any]


@dataclass
class Results:
    plan: Plan
    machine: dict[str, str] = field(default_factory=dict)
    # protocol -> "bare" | "pipeline" -> one result per repetition
    throughput: dict[str, dict[str, list[Run]]] = field(default_factory=dict)
    gc_untuned: list[Run] = field(default_factory=list)
    latency: list[Run] = field(default_factory=list)
    first_paint: list[Run] = field(default_factory=list)
    rss: dict[int, Run] = field(default_factory=dict)
    chaos: Run | None = None
    # top, demo, idle, trucks: one run each, in a real pseudo-terminal
    terminal: list[Run] = field(default_factory=list)
    soak: Run | None = None
    # HQ at each fleet size (benchmarks/fleet_curve.py), smallest first
    fleet: list[Run] = field(default_factory=list)
    app_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def all_runs(results: Results) -> list[Run]:
    runs = [run for by_who in results.throughput.values() for r in by_who.values() for run in r]
    runs += results.gc_untuned + results.latency + results.first_paint
    runs += list(results.rss.values()) + results.terminal + results.fleet
    runs += [run for run in (results.chaos, results.soak) if run is not None]
    return runs


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def pooled(runs: Sequence[Run], key: str) -> list[float]:
    return [value for run in runs for value in run[key]]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(math.ceil(fraction * len(ordered)) - 1, 0))]


@dataclass
class Verdict:
    what: str
    value: str
    target: str
    met: bool

    @property
    def word(self) -> str:
        return "met" if self.met else "NOT met"


# Pipeline / bare client throughput each protocol must reach (issue 11).
THROUGHPUT_TARGETS = {"mqtt": 0.95, "stomp": 1.0}


def verdicts(results: Results) -> list[Verdict]:
    out = []
    for protocol, runs in results.throughput.items():
        bare = median([r["rate"] for r in runs["bare"]])
        piped = median([r["rate"] for r in runs["pipeline"]])
        ratio = piped / bare if bare else math.nan
        target = THROUGHPUT_TARGETS.get(protocol, 1.0)
        out.append(
            Verdict(
                f"{protocol.upper()} pipeline / bare client",
                f"{ratio:.2f} ({piped:,.0f} / {bare:,.0f} msg/s)",
                f">= {target:g}",
                ratio >= target,
            )
        )
    if results.latency:
        delays = pooled(results.latency, "delays_ms")
        missed = sum(run["missed"] for run in results.latency)
        p99 = percentile(delays, 0.99)
        out.append(
            Verdict(
                "key press to visible, p99",
                f"{p99:.1f} ms (p50 {percentile(delays, 0.5):.1f} ms)"
                + (f", {missed} missed" if missed else ""),
                "< 100 ms",
                p99 < 100 and not missed,
            )
        )
    if results.first_paint:
        worst = max(r["first_frame"] for r in results.first_paint)
        typical = median([r["first_frame"] for r in results.first_paint])
        out.append(
            Verdict(
                "first paint after create_app",
                f"median {typical * 1000:.0f} ms, worst {worst * 1000:.0f} ms",
                "< 500 ms",
                worst < 0.5,
            )
        )
    if results.rss:
        biggest = max(results.rss)
        peak = results.rss[biggest]["peak_mb"]
        out.append(
            Verdict(f"peak RSS, {biggest:,} devices", f"{peak:.1f} MB", "< 150 MB", peak < 150)
        )
    if results.chaos:
        run = results.chaos
        out.append(
            Verdict(
                CHAOS_VERDICT,
                f"{run['lost']} of {2 * run['count']:,} ({run['resends']} resent, "
                f"{run['duplicates']} duplicates)",
                "0",
                run["lost"] == 0,
            )
        )
    return out + _terminal_verdicts(results) + _fleet_verdicts(results)


# Issue 11's targets for what a remote user pays.
DEMO_OVER_TOP = 2.0
TRUCKS_BYTES_PER_S = 20_000
TRUCKS_CPU_PCT = 10.0
SOAK_SLOPE_MB_PER_HOUR = 1.0


def terminal_runs(results: Results) -> dict[str, Run]:
    """The terminal runs by kind: top, demo, idle, trucks."""
    return {run["kind"]: run for run in results.terminal}


def _terminal_verdicts(results: Results) -> list[Verdict]:
    runs, trucks = terminal_runs(results), f"{results.plan.trucks:,} trucks at 1 Hz"
    out = []
    if "demo" in runs and "top" in runs:
        demo, top = runs["demo"]["bytes_per_s"], runs["top"]["bytes_per_s"]
        ratio = demo / top if top else math.inf
        out.append(
            Verdict(
                f"demo (20 trucks), bytes/s to a {SCREEN} terminal / `top -d 1`'s",
                f"{ratio:.2f} ({demo:,} / {top:,} B/s)",
                f"<= {DEMO_OVER_TOP:g}",
                ratio <= DEMO_OVER_TOP,
            )
        )
    if "idle" in runs:
        idle = runs["idle"]
        out.append(
            Verdict(
                "bytes written by a screen where nothing changes (links up, no trucks)",
                f"{idle['bytes']:,} B in {idle['seconds']:.0f} s",
                "0",
                idle["bytes"] == 0,
            )
        )
    if "trucks" in runs:
        run = runs["trucks"]
        out.append(
            Verdict(
                f"bytes/s to the terminal, {trucks}",
                f"{run['bytes_per_s']:,} B/s",
                f"<= {TRUCKS_BYTES_PER_S:,} B/s",
                run["bytes_per_s"] <= TRUCKS_BYTES_PER_S,
            )
        )
        out.append(
            Verdict(
                f"CPU of the app, {trucks}",
                f"{run['cpu_core_pct']:.1f} % of one core (load average {run['loadavg']:.2f})",
                f"<= {TRUCKS_CPU_PCT:g} %",
                run["cpu_core_pct"] <= TRUCKS_CPU_PCT,
            )
        )
    if results.soak:
        soak = results.soak
        slope = soak["slope_mb_per_hour"]
        out.append(
            Verdict(
                f"RSS slope, {soak['minutes']:g}-minute soak at {soak['trucks']:,} trucks",
                f"{slope:+.2f} MB/hour ({soak['slope_samples']} samples from minute "
                f"{soak['warm_up_minutes']})",
                f"< {SOAK_SLOPE_MB_PER_HOUR:g} MB/hour",
                slope < SOAK_SLOPE_MB_PER_HOUR,
            )
        )
    return out


def table(results: Results) -> str:
    rows = [("measure", "value", "target", "verdict")]
    rows += [(v.what, v.value, v.target, v.word) for v in verdicts(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(results: Results, findings: str) -> str:
    out = ["# mwm-tui benchmark results", ""]
    out.append(
        "Written by `benchmarks/run.py` (`make bench`). Every ratio divides two numbers measured "
        "in the same run, on the same brokers, with the same flood."
    )
    out += _machine(results)
    out += [
        "",
        "## Verdicts",
        "",
        "| measure | value | target | verdict |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {v.what} | {v.value} | {v.target} | **{v.word}** |" for v in verdicts(results)]
    busiest = max((run["others_cores"] for run in all_runs(results)), default=0.0)
    if busiest > 0.25:
        out += [
            "",
            f"Other processes on this machine kept up to {busiest:.2f} cores busy during some "
            "measurements (see the tables): wall-clock numbers from those are lower and "
            "noisier than on a quiet machine; CPU per message is the steadier figure.",
        ]
    if results.app_errors:
        out += ["", "The app raised while shutting down in these runs (after measuring):", ""]
        out += [f"- `{error}`" for error in results.app_errors]
    if results.throughput:
        out += _throughput(results)
    if results.latency:
        out += _latency(results)
    if results.first_paint:
        out += _first_paint(results)
    if results.rss:
        out += _rss(results)
    if results.gc_untuned:
        out += _gc(results)
    if results.chaos:
        out += _chaos(results)
    findings = with_fleet(with_terminal(findings, results), results)
    if findings:
        out += ["", findings.rstrip()]
    return "\n".join(out) + "\n"


def _machine(results: Results) -> list[str]:
    out = ["", "## Machine", "", "| | |", "| --- | --- |"]
    out += [f"| {key} | {value} |" for key, value in results.machine.items()]
    others = [run["others_cores"] for run in all_runs(results)]
    out.append(
        "| CPU kept busy by other processes during the measurements (cores, of "
        f"{results.machine.get('cores', '?')}) | median {median(others):.2f}, "
        f"max {max(others, default=math.nan):.2f} |"
    )
    out.append(f"| whole run | {results.seconds:.0f} s |")
    return out


def _throughput(results: Results) -> list[str]:
    plan = results.plan
    out = ["", "## 1. Pipeline throughput", ""]
    out.append(
        f"Flood: {plan.devices:,} devices (UUID ids); {plan.mqtt_messages:,} retained QoS 0 "
        f"motion messages (24 bytes) on MQTT, {plan.stomp_messages:,} location messages (JSON "
        "with the iOS app's `ts`) on STOMP; message *i* comes from device *i* mod "
        f"{plan.devices:,}. {plan.publishers} publisher processes per protocol (spawned, raw "
        "sockets, every frame encoded before the start signal) send as fast as the broker takes "
        "them, so the broker holds the backlog and the subscriber is the bottleneck. Each "
        "measured subscriber runs alone in a fresh process, subscribed before the flood starts. "
        "Rate = messages / (time of the last - time of the first), counted at the subscriber. "
        "CPU = user + system CPU time of the subscriber's process (all threads) over that "
        f"window, per message. Bare and pipeline runs alternate, {plan.reps} of each; the "
        "verdict compares medians."
    )
    out += [
        "",
        "- **bare MQTT**: paho-mqtt `Client(CallbackAPIVersion.VERSION2)`, `loop()` on the main "
        "thread, `struct.unpack('>ddd')` per message; first and last taken in `on_message`.",
        "- **bare STOMP**: stomp.py `Connection12`, a listener doing `json.loads` per message on "
        "stomp.py's receiver thread.",
        "- **pipeline**: `create_app(Settings(...))` with the real StompLink and MqttLink, run "
        f"headless by `App.run_test(size={SCREEN})`. First message: when the EventInbox's "
        "received count first moves (a thread polls it every 0.5 ms until then). Last: the end "
        "of the app's own drain timer tick (`MwmApp._drain`, wrapped) after which *handled* "
        "reaches the flood size. **Handled = telemetry the drain applied to the Fleet "
        "(`Fleet.accepted`) + telemetry the inbox coalesced** (replaced by a newer value of the "
        "same device before the drain took it: received and decoded, but never applied one by "
        "one; the Fleet still ends with each device's latest value). Coalesced counts are "
        "shown on their own; when they are 0, handled = applied. Every frame the app composes "
        "is also encoded to terminal bytes (truecolor), as a terminal driver would on the UI "
        "thread.",
        "- **Mosquitto** runs with `max_queued_messages 0`: with its default of 1,000 it drops "
        "QoS 0 messages to a subscriber that falls behind (a trial here delivered 145k of "
        "200k), and the count would depend on the subscriber measured. Each MQTT run gets a "
        "fresh Mosquitto (no retained messages from the run before). ActiveMQ is shared, warmed "
        "up by one unreported flood; its producer flow control slows publishers, never drops.",
        "",
        "| protocol | subscriber | msg/s, each run | median msg/s | median CPU us/msg | "
        "coalesced | largest inbox backlog | publishers' send rate | other processes, "
        "cores |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for protocol, runs in results.throughput.items():
        for who, items in runs.items():
            piped = who == "pipeline"
            rates = ", ".join(f"{r['rate']:,.0f}" for r in items)
            coalesced = ", ".join(f"{r['coalesced']:,}" for r in items) if piped else "-"
            backlog = f"{max(r['max_pending'] for r in items):,}" if piped else "-"
            others = ", ".join(f"{r['others_cores']:.2f}" for r in items)
            out.append(
                f"| {protocol.upper()} | {who} | {rates} | "
                f"{median([r['rate'] for r in items]):,.0f} | "
                f"{median([r['cpu_us'] for r in items]):.1f} | {coalesced} | {backlog} | "
                f"{median([r['publish']['rate'] for r in items]):,.0f} msg/s | "
                f"{others} |"
            )
    out.append("")
    for protocol, runs in results.throughput.items():
        bare_cpu = median([r["cpu_us"] for r in runs["bare"]])
        pipe_cpu = median([r["cpu_us"] for r in runs["pipeline"]])
        out.append(
            f"- {protocol.upper()}: the pipeline process spends {pipe_cpu:.1f} CPU us per "
            f"message, the bare client {bare_cpu:.1f}: a CPU ratio of "
            f"{bare_cpu / pipe_cpu:.2f}, what the throughput ratio tends to where the "
            "subscriber's own CPU is the limit."
        )
    out.append(f"- Ceilings measured before on this machine type: {CEILINGS}.")
    return out


def _latency(results: Results) -> list[str]:
    plan, runs = results.plan, results.latency
    out = ["", "## 2. Key press to visible change", ""]
    out.append(
        f"The app runs headless ({SCREEN}) with both real links while two paced publisher "
        f"processes send {plan.latency_rate:,} msg/s in all (half motion on MQTT, half "
        f"locations on STOMP) from {plan.devices:,} devices. Once every device is in the Fleet "
        f"and 2 s more have passed, `j` is pressed {plan.presses} times, one every "
        f"{plan.press_spacing * 1000:.0f} ms: a `textual.events.Key('j', 'j')` posted to the "
        "app from a thread of its own, as a terminal driver's input thread does, so a key that "
        "comes while the UI thread is busy waits as it would for a user. **Visible** = the "
        "first frame the compositor hands to the driver (`App._display`, timed after the frame "
        "is encoded to terminal bytes) that paints, on the device list's lines, the newly "
        "selected device's row in the cursor style (reverse video). Latency = that moment - "
        "the moment just before the key was posted. One press at a time; a press not visible "
        f"within 2 s counts as missed. {len(runs)} runs in fresh processes; the verdict pools "
        "their presses."
    )
    out.append("")
    out.append(
        "*Key handled* = from the post to the moment the app's action moves the list cursor "
        "(`DeviceList.action_cursor_down`, wrapped); the rest of the latency is waiting for, "
        "and composing, the next frame."
    )
    out += ["", "| | p50 | p90 | p99 | max |", "| --- | --- | --- | --- | --- |"]
    for n, run in enumerate(runs, 1):
        out.append(_percentiles(f"run {n}: key press to visible", run["delays_ms"]))
    out.append(_percentiles("**all runs: key press to visible**", pooled(runs, "delays_ms")))
    out.append(_percentiles("all runs: key press to key handled", pooled(runs, "queued_ms")))
    out += [
        "",
        "| run | presses | missed | sent by the publishers | ingest during presses | "
        "coalesced | frames/s | "
        "GC pauses > 10 ms | longest GC pause | other processes, cores |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, run in enumerate(runs, 1):
        gc = run["gc"]
        out.append(
            f"| {n} | {len(run['delays_ms'])} | {run['missed']} | "
            f"{run['publish']['rate']:,.0f} msg/s | "
            f"{run['ingest_rate']:,.0f} msg/s | {run['coalesced']:,} | "
            f"{run['frames_per_s']:.0f} | {gc['over_10ms']:.0f} | {gc['max_ms']:.1f} ms | "
            f"{run['others_cores']:.2f} |"
        )
    return out


def _percentiles(label: str, values: Sequence[float]) -> str:
    cells = [percentile(values, f) for f in (0.5, 0.9, 0.99)] + [max(values, default=math.nan)]
    return f"| {label} | " + " | ".join(f"{v:.1f} ms" for v in cells) + " |"


def _first_paint(results: Results) -> list[str]:
    out = ["", "## 3. First paint", ""]
    out.append(
        f"{len(results.first_paint)} fresh processes, each: imports, then the clock starts, "
        "`create_app(settings)` (real links to idle brokers), `run_test` headless. *First "
        "frame* = the first compositor update handed to the driver (the verdict's number); "
        "`first_paint_at` = the app's own mark (`call_after_refresh` from `on_mount`, one "
        "refresh later). *Start-up* = process launch to imports done; *from launch* = process "
        "launch to first frame."
    )
    out += [
        "",
        "| run | first frame | first_paint_at | start-up | from launch |",
        "| --- | --- | --- | --- | --- |",
    ]
    for n, run in enumerate(results.first_paint, 1):
        out.append(
            f"| {n} | {run['first_frame'] * 1000:.0f} ms | "
            f"{run['first_paint_at'] * 1000:.0f} ms | {run['startup'] * 1000:.0f} ms | "
            f"{run['from_launch'] * 1000:.0f} ms |"
        )
    return out


def _rss(results: Results) -> list[str]:
    out = ["", "## 4. Peak RSS", ""]
    out.append(
        "One fresh process per fleet size: the app headless with both real links; every device "
        "fed through the app's own EventInbox and drain timer (one location with a parsed "
        "`ts`, then 50 motion samples: a position and a full motion history each; 20,000 "
        "events at a time); then a forced list re-sort, a map redraw and five key presses. "
        "Peak = `getrusage(RUSAGE_SELF).ru_maxrss`; 0 devices is the app alone."
    )
    out += [
        "",
        "| devices | peak RSS | RSS at the end | RSS before feeding | feed time | per device |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    empty = results.rss.get(0)
    for count, run in sorted(results.rss.items()):
        per = (
            f"{(run['peak_mb'] - empty['peak_mb']) * 1024 / count:.1f} KB"
            if empty is not None and count
            else "-"
        )
        out.append(
            f"| {count:,} | {run['peak_mb']:.1f} MB | {run['rss_mb']:.1f} MB | "
            f"{run['rss_before_feed_mb']:.1f} MB | {run['feed_s']:.1f} s | {per} |"
        )
    return out


def _gc(results: Results) -> list[str]:
    out = ["", "## 5. GC pauses during the MQTT flood", ""]
    out.append(
        "`gc.callbacks` timing each collection in the pipeline process between the first and "
        "the last message: the MQTT pipeline runs above (`gc_policy.tune()`, the default) and "
        "the same flood with `create_app(..., tune_gc=False)`."
    )
    out += [
        "",
        "| run | collections | gen 2 | > 10 ms | longest | total | pipeline msg/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    tuned = results.throughput.get("mqtt", {}).get("pipeline", [])
    out += [_gc_row(f"tuned {n}", run) for n, run in enumerate(tuned, 1)]
    out += [_gc_row(f"not tuned {n}", run) for n, run in enumerate(results.gc_untuned, 1)]
    return out


def _gc_row(label: str, run: Run) -> str:
    stats = run["gc"]
    return (
        f"| {label} | {stats['collections']:.0f} | {stats['gen2']:.0f} | "
        f"{stats['over_10ms']:.0f} | {stats['max_ms']:.1f} ms | {stats['total_ms']:.0f} ms | "
        f"{run['rate']:,.0f} |"
    )


def _chaos(results: Results) -> list[str]:
    run, plan, machine = results.chaos or {}, results.plan, results.machine
    kills = run["kills"]
    frozen = sum(kill["frozen"] for kill in kills)
    timing = run["plan"]
    out = [
        "",
        CHAOS_HEADING,
        "",
        f"{run['count']:,} orders (STOMP, one truck's queue) and {run['count']:,} alerts (MQTT "
        f"QoS 1, one truck each) through the app (`send_order` / `send_alert`, the methods Enter "
        f"and `a` call; Pilot, headless, the real links with their default retry and "
        f"confirmation settings), a pause of "
        f"{run['spacing'] * 1000:.0f} ms after each pair (with the app's own work, a pair every "
        f"{run['sending_seconds'] / run['count'] * 1000:.0f} ms), "
        "while each broker is kill -9'd and restarted on its "
        f"port {plan.chaos_rounds} times, in turns: a kill {timing['pause']:.1f} s after the "
        f"restart before it, dead for {timing['down']:.0f} s, then started again. Before its "
        f"first kill each broker is SIGSTOPped for {timing['frozen']:.0f} s: what HQ writes then "
        "reaches the socket but never the broker, so it is lost without an answer and must be "
        "resent (that outage counts the frozen second too). ActiveMQ keeps "
        "its messages in KahaDB, Mosquitto its sessions on every change. Independent consumers "
        "(stomp.py with client-individual acks; paho with a persistent session) count what "
        "arrived. The machinery is the chaos test's (`tests/support/chaos.py`). "
        f"Run on {machine.get('CPU', '?')}, nproc {run.get('nproc', '?')}, Python "
        f"{machine.get('Python', '?')}, {machine.get('date', '?')}, commit "
        f"{machine.get('commit', '?')}; other processes kept {run['others_cores']:.2f} cores "
        f"busy on average. The dispatches were made in {run['sending_seconds']:.0f} s, the "
        f"kills and restarts took {run['kills_seconds']:.0f} s from the first kill; *queued at "
        "HQ* counts the dispatches not sent at once (made while their link was down) or handed "
        "back by a link that lost them, from the history database.",
        "",
        "| sent | kills | lost | duplicates at the consumers | resends (after an ambiguous "
        "loss, marked) | queued at HQ for a link | outcomes | wall time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {2 * run['count']:,} | {len(kills)} ({frozen} frozen first) | {run['lost']} | "
        f"{run['duplicates']} | {run['resends']} | {run['queued']} | "
        + ", ".join(f"{stage} {n:,}" for stage, n in sorted(run["outcomes"].items()))
        + f" | {run['seconds']:.0f} s |",
        "",
        "*Restart* = kill to the restarted broker answering a protocol handshake; *link up* = "
        "from then to the app's link reporting up (subscribed); *outage* = kill to link up.",
        "",
        "| kill | broker | frozen first | restart | link up | outage |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for number, kill in enumerate(kills, 1):
        up, outage = kill["link_up_s"], kill["outage_s"]
        out.append(
            f"| {number} | {kill['broker']} | {'yes' if kill['frozen'] else 'no'} | "
            f"{kill['restart_s']:.1f} s | "
            + ("never" if up is None else f"{up:.2f} s")
            + " | "
            + ("never" if outage is None else f"{outage:.1f} s")
            + " |"
        )
    return out


TERMINAL_HEADING = "## 8. What a remote user pays"
TERMINAL_BLOCKS = ("terminal", "soak")


def _terminal(results: Results) -> list[str]:
    runs, plan, machine = terminal_runs(results), results.plan, results.machine
    top = runs.get("top", {}).get("bytes_per_s")
    out = [
        f"Measured by `make bench` ({machine.get('date', '?')}, commit "
        f"{machine.get('commit', '?')}). Each program runs on a real pseudo-terminal of "
        f"{SCREEN} (no tmux in between), `TERM=xterm-256color` and no `COLORTERM`, as over "
        f"SSH, which does not pass `COLORTERM` on; {WARM_UP_S:g} s of warm-up, then every byte "
        f"it writes is counted for {plan.terminal_seconds:g} s. *zlib* is the same stream "
        "through zlib level 6, what `ssh -C` sends. *CPU* is the app process's own (user + "
        "system, all threads), in % of one core; the trucks are one `mwm-sim` process (a "
        "location on STOMP and a motion message on MQTT per truck each second) on a real "
        "Mosquitto and ActiveMQ. *x top* divides by the `top -d 1` of this run. *Other "
        "processes* = cores kept busy by processes outside the benchmark during the run.",
        "",
        "| run | bytes/s | x top | zlib bytes/s | CPU, % of one core | RSS | other processes, "
        "cores | load average |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in results.terminal:
        ratio = f"{run['bytes_per_s'] / top:.2f}" if top else "-"
        out.append(
            f"| {run['run']} | {run['bytes_per_s']:,} | {ratio} | {run['zlib_bytes_per_s']:,} | "
            f"{run['cpu_core_pct']:.1f} | {run['rss_mb']:.1f} MB | {run['others_cores']:.2f} | "
            f"{run['loadavg']:.2f} |"
        )
    return out


def _soak(results: Results) -> list[str]:
    soak = results.soak or {}
    minutes, warm_up = soak["minutes"], soak["warm_up_minutes"]
    full = minutes >= FULL_SOAK_MINUTES
    which = (
        "the full soak"
        if full
        else f"a short soak (the full hour: `make bench SOAK_MINUTES={FULL_SOAK_MINUTES:g}`)"
    )
    kept = (
        f"the samples from minute {warm_up} on (the first {warm_up} minutes are warm-up: "
        "the trucks' motion histories fill in their first 50 s)"
        if warm_up
        else "every sample (too short a soak to leave a warm-up out)"
    )
    samples = ", ".join(f"{rss:.1f}" for _, rss in soak["rss_mb"])
    return [
        f"**Soak**: {which}, {minutes:g} minutes, {soak['trucks']:,} trucks at 1 Hz through "
        "the same brokers, a fresh app process on a pseudo-terminal of the same size. RSS "
        f"(VmRSS) {WARM_UP_S:g} s after the start, then each minute. The slope is the "
        f"least-squares line through {kept}: {soak['slope_samples']} samples, "
        f"**{soak['slope_mb_per_hour']:+.2f} MB/hour**. Over the soak the app wrote "
        f"{soak['bytes_per_s']:,} B/s and used {soak['cpu_core_pct']:.1f} % of one core; "
        f"other processes kept {soak['others_cores']:.2f} cores busy (load average "
        f"{soak['loadavg']:.2f} at the end).",
        "",
        f"RSS, MB, minute 0 to {len(soak['rss_mb']) - 1}: {samples}.",
    ]


def with_terminal(findings: str, results: Results) -> str:
    """``findings`` with the generated terminal and soak blocks replaced by this run's.

    A block this run did not measure keeps its text; without markers, a section is added.
    """
    bodies = {
        "terminal": _terminal(results) if results.terminal else None,
        "soak": _soak(results) if results.soak else None,
    }
    if not any(bodies.values()):
        return findings
    if _begin("terminal") not in findings:
        blocks = []
        for name in TERMINAL_BLOCKS:
            blocks += ["", _begin(name), *(bodies[name] or []), _end(name)]
        section = "\n".join([TERMINAL_HEADING, *blocks])
        return section + ("\n\n" + findings if findings else "")
    for name, body in bodies.items():
        if body is None:
            continue
        before, begin, rest = findings.partition(_begin(name))
        _, end, after = rest.partition(_end(name))
        if not (begin and end):
            continue
        findings = before + "\n".join([begin, *body, end]) + after
    return findings


def _begin(name: str) -> str:
    return f"<!-- {name}: written by benchmarks/report.py from make bench -->"


def _end(name: str) -> str:
    return f"<!-- end of {name} -->"


def updated(existing: str, results: Results) -> str:
    """``existing`` RESULTS.md with the verdicts and sections of what ``results`` measured.

    For runs of some sections alone (``--only chaos``, ``--only terminal,soak``): the rest stays.
    """
    existing = _with_verdict_rows(existing, verdicts(results))
    if results.chaos:
        existing = _with_chaos(existing, results)
    before, marker, rest = existing.partition("\n## Findings")
    findings = marker.lstrip("\n") + rest
    if marker:
        return before + "\n" + with_fleet(with_terminal(findings, results), results)
    added = with_fleet(with_terminal("", results), results)
    return existing.rstrip("\n") + "\n\n" + added.rstrip("\n") + "\n"


def _with_chaos(existing: str, results: Results) -> str:
    """``existing`` RESULTS.md with its chaos section replaced (or added before the findings)."""
    section = "\n".join(_chaos(results)).strip("\n") + "\n"
    before, marker, rest = existing.partition(CHAOS_HEADING)
    if marker:
        _, heading, after = rest.partition("\n## ")
        return before + section + (heading + after if heading else "")
    before, marker, rest = existing.partition("\n## Findings")
    return before.rstrip("\n") + "\n\n" + section + marker + rest


def _row_key(what: str) -> str:
    """What names a verdict row across runs: its text up to the first comma."""
    return what.split(",", maxsplit=1)[0]


def _with_verdict_rows(existing: str, new: Sequence[Verdict]) -> str:
    """Replace the rows of the verdicts table these verdicts name; add the others at its end."""
    lines = existing.split("\n")
    start = lines.index("## Verdicts")
    rows = start + 4  # heading, blank, header, rule
    while rows < len(lines) and lines[rows].startswith("| "):
        rows += 1
    for verdict in new:
        row = f"| {verdict.what} | {verdict.value} | {verdict.target} | **{verdict.word}** |"
        key = f"| {_row_key(verdict.what)}"
        index = next((i for i in range(start, rows) if lines[i].startswith(key)), None)
        if index is None:
            lines.insert(rows, row)
            rows += 1
        else:
            lines[index] = row
    return "\n".join(lines)


def kept_findings() -> str:
    """The hand-written '## Findings' section of the last RESULTS.md, to carry over."""
    if not RESULTS_FILE.exists():
        return ""
    _, marker, rest = RESULTS_FILE.read_text().partition("\n## Findings")
    return marker.lstrip("\n") + rest if marker else ""


# The targets of HQ at the largest fleet size of the curve.
FLEET_CPU_PCT = 30.0
FLEET_RSS_MB = 200.0
FLEET_KEY_P99_MS = 100.0
FLEET_WILL_TO_OFFLINE_S = 1.0
FLEET_ONLINE_S = 60.0
# A silent truck's row shows 2 s of age within 3 s when HQ keeps up (the last message was up
# to 1 s old) and the list repaints 3 times a second: more is HQ's intake lagging.
FLEET_SILENCE_SHOWN_S = 3.5
FLEET_HEADING = (
    "## 11. HQ's cost as the fleet grows (`make bench`; this part alone: `make bench-fleet`)"
)


def _worst_silence(silences: list[float | None]) -> str:
    shown = [t for t in silences if t is not None]
    return "never shown" if len(shown) < len(silences) else f"{max(shown):.1f} s"


def _fleet_verdicts(results: Results) -> list[Verdict]:
    runs = sorted(results.fleet, key=lambda run: run["trucks"])
    if not runs:
        return []
    big, small = runs[-1], runs[0]
    size = f"{big['trucks']:,} trucks at 1 Hz"
    keys = big["key_ms"]
    p99 = percentile(keys, 0.99)
    wills = big["will_to_offline_s"]
    worst = max(wills, default=math.nan)
    ratio = big["bytes_per_s"] / small["bytes_per_s"] if small["bytes_per_s"] else math.inf
    online = big["online_s"]
    load = f"load average {' / '.join(big['loadavg_all'])}"
    silences = big.get("silence_shown_s", [])
    return [
        Verdict(
            f"fleet curve: HQ CPU, {size}",
            f"{big['cpu_core_pct']:.1f} % of one core ({load})",
            f"<= {FLEET_CPU_PCT:g} %",
            big["cpu_core_pct"] <= FLEET_CPU_PCT,
        ),
        Verdict(
            f"fleet curve: HQ peak RSS, {size}",
            f"{big['peak_rss_mb']:.0f} MB",
            f"<= {FLEET_RSS_MB:g} MB",
            big["peak_rss_mb"] <= FLEET_RSS_MB,
        ),
        Verdict(
            f"fleet curve: key press to visible, p99, {size}",
            f"{p99:.0f} ms of {len(keys)} presses"
            + (f", {big['missed_keys']} missed" if big["missed_keys"] else ""),
            f"< {FLEET_KEY_P99_MS:g} ms",
            p99 < FLEET_KEY_P99_MS and not big["missed_keys"],
        ),
        Verdict(
            f"fleet curve: HQ keeps up (a silent truck shown silent), {size}",
            "-" if not silences else f"worst {_worst_silence(silences)} of {len(silences)}",
            f"<= {FLEET_SILENCE_SHOWN_S:g} s",
            bool(silences) and None not in silences and max(silences) <= FLEET_SILENCE_SHOWN_S,
        ),
        Verdict(
            f"fleet curve: will to offline mark, {size}",
            f"worst {worst:.2f} s of {len(wills)} kills"
            + (f", {big['missed_offline']} never shown" if big["missed_offline"] else ""),
            f"< {FLEET_WILL_TO_OFFLINE_S:g} s",
            worst < FLEET_WILL_TO_OFFLINE_S and not big["missed_offline"],
        ),
        Verdict(
            f"fleet curve: bytes/s to the terminal, {size} / {small['trucks']:,} trucks",
            f"{ratio:.2f} ({big['bytes_per_s']:,} / {small['bytes_per_s']:,} B/s)",
            "<= 1",
            ratio <= 1,
        ),
        Verdict(
            f"fleet curve: every truck online on screen, {size}",
            "never" if online is None else f"{online:.0f} s after HQ started",
            f"<= {FLEET_ONLINE_S:g} s",
            online is not None and online <= FLEET_ONLINE_S,
        ),
    ]


def _fleet(results: Results) -> list[str]:
    machine, plan = results.machine, results.plan
    runs = sorted(results.fleet, key=lambda run: run["trucks"])
    cores = int(machine.get("cores", "0") or 0) or 1
    busiest = max(float(run["loadavg_all"][0]) for run in runs)
    out = [
        f"Measured by `make bench` ({machine.get('date', '?')}, commit "
        f"{machine.get('commit', '?')}; `benchmarks/fleet_curve.py`). For each size: a fresh "
        "Mosquitto and a fresh ActiveMQ (NIO STOMP connector, 2 GB heap), `mwm-sim` with that "
        "many trucks (a fix on STOMP and a motion on MQTT per truck each second, one process "
        "per 5,000 trucks, each truck its own two connections) until it says READY; then "
        f"`mwm-tui` on a real pseudo-terminal of {SCREEN} (`TERM=xterm-256color`, no "
        "`COLORTERM`), its output read into a screen model (cursor moves and text). *Online* = "
        "from HQ's start until its status bar counts every truck online. Then "
        f"{WARM_UP_S:g} s of warm-up and a window of {plan.fleet_seconds:g} s: *CPU* is HQ's "
        "own (user + system, all threads) in % of one core, *bytes/s* what it wrote to the "
        "terminal, *peak RSS* its VmHWM at the end. *Key* = `j` pressed every 2 s, from the "
        "write to the terminal until the motion pane's title names the newly selected truck. "
        "*Silence shown* = three trucks listed on screen fall silent at random moments of the "
        "window (`quiet ID` to mwm-sim: no more fixes or motion, connections kept): seconds "
        "until their row shows both ages at 2 s or more, 2-3 s when HQ keeps up with the "
        "brokers, more by what its intake lags. *Will to offline* = each such truck then "
        "killed (`kill ID`: a reset, no DISCONNECT), from its will reaching an MQTT client of "
        "the benchmark's own until HQ shows it offline (its row, or one more offline in the "
        "status bar, whichever comes first). Load averages: 1, 5 and 15 minutes, at the end "
        "of the window, the run's own brokers and mwm-sim included.",
        "",
    ]
    # The load average counts the run's own brokers and mwm-sim; other work is what loads it.
    if max(r["others_cores"] for r in runs) > 0.25:
        out += [
            f"**Run on a loaded machine**: other work kept up to "
            f"{max(r['others_cores'] for r in runs):.2f} of its {cores} cores busy and the load "
            f"average reached {busiest:.2f}; HQ's CPU, key and will timings are higher and "
            "noisier than on a quiet machine.",
            "",
        ]
    out += [
        "| trucks | online on screen | HQ CPU, % of one core | HQ peak RSS | bytes/s | key p50 / "
        "p99 (presses) | silence shown | will to offline mark | mwm-sim READY after, CPU, "
        "threads | other processes, cores | load average |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        keys = run["key_ms"]
        online = "never" if run["online_s"] is None else f"{run['online_s']:.1f} s"
        wills = ", ".join(f"{w:.2f}" for w in run["will_to_offline_s"]) or "-"
        silences = run.get("silence_shown_s", [])
        silence = ", ".join("never" if t is None else f"{t:.1f}" for t in silences) or "-"
        out.append(
            f"| {run['trucks']:,} | {online} | {run['cpu_core_pct']:.1f} | "
            f"{run['peak_rss_mb']:.0f} MB | {run['bytes_per_s']:,} | "
            f"{percentile(keys, 0.5):.0f} / {percentile(keys, 0.99):.0f} ms ({len(keys)}"
            + (f", {run['missed_keys']} missed" if run["missed_keys"] else "")
            + f") | {silence} s | {wills} s"
            + (f" ({run['missed_offline']} never shown)" if run["missed_offline"] else "")
            + f" | {run['sim_ready_s']:.0f} s, {run['sim_cpu_core_pct']:.0f} %, "
            f"{run['sim_threads']} | {run['others_cores']:.2f} | "
            f"{' / '.join(run['loadavg_all'])} |"
        )
    return out


def with_fleet(findings: str, results: Results) -> str:
    """``findings`` with the fleet curve's block replaced by this run's, or the section added."""
    if not results.fleet:
        return findings
    body = "\n".join([_begin("fleet"), *_fleet(results), _end("fleet")])
    before, begin, rest = findings.partition(_begin("fleet"))
    _, end, after = rest.partition(_end("fleet"))
    if begin and end:
        return before + body + after
    section = "\n".join([FLEET_HEADING, "", body])
    return findings.rstrip("\n") + ("\n\n" if findings else "") + section + "\n"
