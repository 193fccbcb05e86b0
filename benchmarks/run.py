"""mwm-tui benchmarks on real brokers; every number is judged against a baseline of the same run.

``make bench`` (or ``.venv/bin/python benchmarks/run.py``) starts its own Mosquitto and
ActiveMQ, floods them from publisher processes, measures the dashboard and bare clients each in
a fresh process; then runs the app, the demo and ``top`` on a real pseudo-terminal
(``benchmarks/terminal.py``) and a soak; prints a table and writes ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.fleet_curve import measure_curve  # noqa: E402
from benchmarks.load import OtherCpu, loadavg  # noqa: E402
from benchmarks.report import (  # noqa: E402
    RESULTS_FILE,
    SCREEN,
    Plan,
    Results,
    Run,
    kept_findings,
    markdown,
    percentile,
    table,
    updated,
)
from benchmarks.terminal import measure_all  # noqa: E402
from benchmarks.traffic import (  # noqa: E402
    FloodMosquitto,
    Publishers,
    PublisherSpec,
    device_ids,
    split,
)
from tests.support.brokers import ActiveMQ, Mosquitto  # noqa: E402

MODULE_OF = {
    "bare-mqtt": "benchmarks.bare",
    "bare-stomp": "benchmarks.bare",
    "pipeline": "benchmarks.app_probes",
    "latency": "benchmarks.app_probes",
    "first-paint": "benchmarks.app_probes",
    "rss": "benchmarks.app_probes",
    "chaos": "benchmarks.chaos",
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class ChildError(RuntimeError):
    pass


class Child:
    """One measurement in a fresh interpreter; it reports on stdout lines starting ``@@``."""

    def __init__(self, kind: str, params: dict[str, Any]) -> None:
        self.kind = kind
        self.errors: list[str] = []
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix=f"mwm-bench-{kind}-", suffix=".log", delete=False
        )
        # Frames are encoded for a truecolor terminal, whatever this one is.
        env = dict(os.environ, TEXTUAL_COLOR_SYSTEM="truecolor")
        params = dict(params, launched_at=time.monotonic())
        self._proc = subprocess.Popen(
            [sys.executable, "-m", MODULE_OF[kind], kind, json.dumps(params)],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env=env,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if not line.startswith("@@"):
                continue
            tag, _, value = line[2:].rstrip("\n").partition(" ")
            if tag == "ERROR":
                self.errors.append(json.loads(value))
            self._lines.put(f"{tag} {value}")
        self._lines.put(None)

    def expect(self, tag: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise ChildError(f"{self.kind}: no {tag} in {timeout:g} s\n{self.log()}") from None
            if line is None:
                raise ChildError(f"{self.kind} ended before {tag}\n{self.log()}")
            name, _, value = line.partition(" ")
            if name == tag:
                return json.loads(value)

    @property
    def log_path(self) -> str:
        return self._log.name

    def log(self, lines: int = 40) -> str:
        self._log.flush()
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def close(self, timeout: float = 60.0) -> None:
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(5)
        self._log.close()
        if self._proc.returncode == 0:
            Path(self._log.name).unlink(missing_ok=True)


class Bench:
    """Runs the measurements against one ActiveMQ and an idle Mosquitto."""

    def __init__(self, plan: Plan, activemq: ActiveMQ, idle: Mosquitto, results: Results) -> None:
        self.plan = plan
        self.activemq = activemq
        self.idle = idle
        self.devices = device_ids(plan.devices)
        self.results = results

    def measure(self, kind: str, params: dict[str, Any], specs: Sequence[PublisherSpec]) -> Run:
        """Start publishers and a child; when both are ready, let the publishers go."""
        others = OtherCpu()
        publishers = Publishers(specs) if specs else None
        child = Child(kind, params)
        try:
            if publishers is not None:
                child.expect("READY", 120)
                publishers.wait_ready()
                publishers.go()
            result: Run = child.expect("RESULT", 600)
            result["others_cores"] = others.cores()
            if publishers is not None:
                result["publish"] = publishers.finish()
        finally:
            if publishers is not None:
                publishers.kill()
            child.close()
        for error in child.errors:
            say(f"  the app raised after measuring: {error} (its stderr: {child.log_path})")
            self.results.app_errors.append(f"{kind}: {error}")
        return result

    def app_params(self, mosquitto: Mosquitto | None = None) -> dict[str, Any]:
        return {"stomp_url": self.activemq.url, "mqtt_url": (mosquitto or self.idle).url}

    def throughput(self) -> None:
        plan = self.plan
        say(f"STOMP warm-up: {plan.stomp_messages:,} messages to a bare subscriber")
        self.flood("stomp", "bare")
        for protocol in ("mqtt", "stomp"):
            runs: dict[str, list[Run]] = {"bare": [], "pipeline": []}
            self.results.throughput[protocol] = runs
            for rep in range(plan.reps):
                order = ("bare", "pipeline") if rep % 2 == 0 else ("pipeline", "bare")
                for who in order:
                    run = self.flood(protocol, who)
                    runs[who].append(run)
                    coalesced = f", {run['coalesced']:,} coalesced" if who == "pipeline" else ""
                    say(
                        f"{protocol:5} {who:8} {rep + 1}: {run['rate']:8,.0f} msg/s, "
                        f"{run['cpu_us']:5.1f} CPU us/msg, {run['count']:,} handled{coalesced}; "
                        f"other processes {run['others_cores']:.2f} cores"
                    )
        for rep in range(plan.untuned_runs):
            run = self.flood("mqtt", "pipeline", tune_gc=False)
            self.results.gc_untuned.append(run)
            say(f"mqtt  pipeline without gc_policy.tune() {rep + 1}: {run['rate']:8,.0f} msg/s")

    def flood(self, protocol: str, who: str, *, tune_gc: bool = True) -> Run:
        plan = self.plan
        if protocol == "stomp":
            port = self.activemq.port
            flood = PublisherSpec("stomp", port, self.devices, 0, 1, plan.stomp_messages)
            specs = split(flood, plan.publishers)
            if who == "bare":
                return self.measure("bare-stomp", {"port": port, "messages": flood.count}, specs)
            params = dict(self.app_params(), protocol="stomp", messages=flood.count)
            return self.measure("pipeline", dict(params, tune_gc=tune_gc), specs)
        # A fresh Mosquitto for each MQTT run: no retained messages from the run before.
        with FloodMosquitto() as mosquitto:
            port = mosquitto.port
            flood = PublisherSpec("mqtt", port, self.devices, 0, 1, plan.mqtt_messages)
            specs = split(flood, plan.publishers)
            if who == "bare":
                return self.measure("bare-mqtt", {"port": port, "messages": flood.count}, specs)
            params = dict(self.app_params(mosquitto), protocol="mqtt", messages=flood.count)
            return self.measure("pipeline", dict(params, tune_gc=tune_gc), specs)

    def latency(self) -> None:
        plan = self.plan
        say(f"key latency: {plan.presses} presses of j while {plan.latency_rate:,} msg/s arrive")
        half = plan.latency_rate / 2
        for _ in range(plan.latency_runs):
            with FloodMosquitto() as mosquitto:
                # Ten distinct messages per device and protocol, cycled until the child is done.
                rounds = plan.devices * 10
                specs = [
                    PublisherSpec("mqtt", mosquitto.port, self.devices, 0, 1, rounds, half),
                    PublisherSpec("stomp", self.activemq.port, self.devices, 0, 1, rounds, half),
                ]
                params = dict(
                    self.app_params(mosquitto),
                    devices=plan.devices,
                    settle=2.0,
                    presses=plan.presses,
                    spacing=plan.press_spacing,
                )
                lat = self.measure("latency", params, specs)
            self.results.latency.append(lat)
            delays, queued = lat["delays_ms"], lat["queued_ms"]
            say(
                f"  p50 {percentile(delays, 0.5):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms, "
                f"max {max(delays, default=0):.1f} ms, missed {lat['missed']}; key handled "
                f"after p50 {percentile(queued, 0.5):.1f} / p99 {percentile(queued, 0.99):.1f} "
                f"ms; ingest {lat['ingest_rate']:,.0f} msg/s, {lat['frames_per_s']:.0f} frames/s; "
                f"publishers sent {lat['publish']['rate']:,.0f} msg/s; "
                f"other processes {lat['others_cores']:.2f} cores; "
                f"GC pauses by generation {lat['gc']['count_by_gen']}, longest "
                + ", ".join(f"{ms:.1f}" for ms in lat["gc"]["max_ms_by_gen"])
                + " ms"
            )

    def first_paint(self) -> None:
        say(f"first paint: {self.plan.first_paint_runs} fresh processes")
        for _ in range(self.plan.first_paint_runs):
            run = self.measure("first-paint", self.app_params(), [])
            self.results.first_paint.append(run)
            say(
                f"  first frame {run['first_frame'] * 1000:.0f} ms after create_app "
                f"(first_paint_at {run['first_paint_at'] * 1000:.0f} ms, "
                f"{run['from_launch'] * 1000:.0f} ms from launch)"
            )

    def rss(self) -> None:
        for count in self.plan.rss_fleets:
            # A Mosquitto of its own: no retained devices beyond the ones fed.
            with FloodMosquitto() as mosquitto:
                run = self.measure("rss", dict(self.app_params(mosquitto), devices=count), [])
            self.results.rss[count] = run
            say(
                f"peak RSS with {count:,} devices: {run['peak_mb']:.1f} MB "
                f"(at the end {run['rss_mb']:.1f} MB; fed in {run['feed_s']:.1f} s)"
            )

    def chaos(self) -> None:
        plan = self.plan
        say(
            f"chaos: {plan.chaos_count:,} orders + {plan.chaos_count:,} alerts while each broker "
            f"is killed {plan.chaos_rounds} times"
        )
        params = {"count": plan.chaos_count, "rounds": plan.chaos_rounds}
        run = self.measure("chaos", dict(params, spacing=plan.chaos_spacing), [])
        self.results.chaos = run
        say(
            f"  lost {run['lost']}, duplicates {run['duplicates']}, resends {run['resends']}, "
            f"queued at HQ {run['queued']}, {run['seconds']:.0f} s; link up after each restart: "
            + ", ".join(
                f"{k['link']} " + ("never" if k["link_up_s"] is None else f"{k['link_up_s']:.2f} s")
                for k in run["kills"]
            )
        )


def machine_info() -> dict[str, str]:
    def first_field(path: str, key: str) -> str:
        with contextlib.suppress(OSError):
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.partition(":")[2].strip()
        return "unknown"

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def command(*argv: str) -> str:
        if shutil.which(argv[0]) is None:
            return "unknown"
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.stdout.strip() or "unknown"

    mem_kb = first_field("/proc/meminfo", "MemTotal").split()[0]
    return {
        "CPU": first_field("/proc/cpuinfo", "model name"),
        "cores": str(os.cpu_count()),
        "RAM": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "unknown",
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "textual": version("textual"),
        "rich": version("rich"),
        "paho-mqtt": version("paho-mqtt"),
        "stomp.py": version("stomp.py"),
        "Mosquitto": command("dpkg-query", "-W", "-f=${Version}", "mosquitto"),
        "ActiveMQ": command("dpkg-query", "-W", "-f=${Version}", "activemq"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": command("git", "-C", str(ROOT), "describe", "--always", "--dirty"),
    }


SECTIONS = ("throughput", "latency", "paint", "rss", "chaos", "terminal", "soak", "fleet")
# Sections measured on the shared ActiveMQ and idle Mosquitto; the others start their own.
# Sections that update their part of an existing RESULTS.md when run alone.
PARTIAL = {"chaos", "terminal", "soak", "fleet"}
ON_SHARED_BROKERS = {"throughput", "latency", "paint", "rss", "chaos"}


def run(plan: Plan, sections: set[str]) -> Results:
    started = time.monotonic()
    if loadavg() > 0.5:
        say(f"warning: load average {loadavg():.2f} at the start: other work will show")
    results = Results(plan, machine=machine_info())
    if sections & ON_SHARED_BROKERS:
        with ActiveMQ() as activemq, FloodMosquitto() as idle:
            bench = Bench(plan, activemq, idle, results)
            say(f"brokers: {activemq.url} (ready in {activemq.ready_seconds:.2f} s), {idle.url}")
            if "throughput" in sections:
                bench.throughput()
            if "latency" in sections:
                bench.latency()
            if "paint" in sections:
                bench.first_paint()
            if "rss" in sections:
                bench.rss()
            if "chaos" in sections:
                bench.chaos()
    if sections & {"terminal", "soak"}:
        say(
            f"terminal ({SCREEN}): top -d 1, the demo, links up with no trucks and "
            f"{plan.trucks:,} trucks, {plan.terminal_seconds:g} s each"
        )
        runs = measure_all(
            plan.terminal_seconds,
            plan.trucks,
            plan.soak_minutes if "soak" in sections else 0,
            screens="terminal" in sections,
            say=say,
        )
        results.terminal = [run for run in runs if run["kind"] != "soak"]
        results.soak = next((run for run in runs if run["kind"] == "soak"), None)
    if "fleet" in sections:
        sizes = ", ".join(f"{size:,}" for size in plan.fleet_sizes)
        say(f"fleet curve: HQ with {sizes} trucks at 1 Hz, {plan.fleet_seconds:g} s each")
        results.fleet = measure_curve(plan.fleet_seconds, plan.fleet_sizes, say=say)
    results.seconds = time.monotonic() - started
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers, to try the script")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help="comma-separated sections to run (default: %(default)s)",
    )
    parser.add_argument(
        "--soak-minutes",
        type=float,
        metavar="MINUTES",
        help=f"length of the soak (default: {Plan.soak_minutes:g}; a quicker look: 10; --quick: 1)",
    )
    parser.add_argument(
        "--terminal-seconds",
        type=float,
        metavar="SECONDS",
        help=f"each terminal measurement (default: {Plan.terminal_seconds:g}; --quick: 10)",
    )
    parser.add_argument("--reps", type=int, help="bare/pipeline pairs per protocol")
    parser.add_argument(
        "--no-write", action="store_true", help=f"print only; leave {RESULTS_FILE.name} alone"
    )
    args = parser.parse_args(argv)
    plan = Plan()
    if args.quick:
        plan = Plan(
            mqtt_messages=40_000,
            stomp_messages=20_000,
            reps=1,
            untuned_runs=1,
            latency_runs=1,
            presses=40,
            first_paint_runs=2,
            rss_fleets=(0, 1_000),
            chaos_count=100,
            terminal_seconds=10,
            soak_minutes=1,
            fleet_sizes=(200, 1_000),
            fleet_seconds=20,
        )
    if args.reps:
        plan.reps = args.reps
    if args.soak_minutes is not None:
        plan.soak_minutes = args.soak_minutes
    if args.terminal_seconds is not None:
        plan.terminal_seconds = args.terminal_seconds
    sections = set(args.only.split(","))
    if unknown := sections - set(SECTIONS):
        parser.error(f"unknown section {', '.join(sorted(unknown))}: choose from {SECTIONS}")
    results = run(plan, sections)
    print(table(results))
    if not args.no_write and sections <= PARTIAL and RESULTS_FILE.exists():
        RESULTS_FILE.write_text(updated(RESULTS_FILE.read_text(), results))
        say(f"updated the {', '.join(sorted(sections))} rows and text of {RESULTS_FILE.name}")
    elif not args.no_write:
        RESULTS_FILE.write_text(markdown(results, kept_findings()))
        say(f"wrote {RESULTS_FILE.relative_to(ROOT)} ({results.seconds:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
