"""Command line of mwm-sim, the fleet simulator."""

from __future__ import annotations

import argparse
import os
import resource
import signal
import stat
import sys
import threading
from types import FrameType
from typing import NoReturn

from mwm_tui import __version__
from mwm_tui.domain import ids, simulation
from mwm_tui.domain.fleet_access import AccessError, parse_credentials
from mwm_tui.domain.targets import (
    DEFAULT_VHOST,
    BrokerTarget,
    Protocol,
    TargetError,
    TlsOptions,
    parse_target,
)
from mwm_tui.domain.text import literal

from .fleet import DEFAULT_CONNECT_RATE, FleetSimulator, LineWriter, SimSettings
from .processes import WorkerOutput, WorkerPool, fleet_commands, serve_commands, split

DESCRIPTION = """\
Simulate a fleet of trucks, each behaving like the two device apps of the book
"Mobile and Web Messaging": over STOMP it sends a GPS fix to
/topic/device.<ID>.location and reads text orders from /queue/device.<ID>.text;
over MQTT it publishes its phone's motion, retained, to /mwm/<ID>/motion, listens
for alerts on /mwm/<ID>/alert and leaves a last will on /mwm/lastWill.
Devices reconnect on their own when a broker restarts, at --connect-rate new
connections a second over the whole fleet. Each device has a connection of its
own on each protocol, all served by one event loop per process; --processes
spreads the devices over several. A device's client id is <ID> on both
protocols, as the book's apps send it; a broker that serves both with one
client-id namespace (ActiveMQ) refuses the second, and the device's
STOMP connection then uses <ID>.stomp (said once on stderr)."""

EPILOG = """\
output (stdout, one flushed line each):
  READY <n> devices       every device is subscribed on both brokers
  ORDER <ID>: <text>      a device read an order from its queue
  ALERT <ID>: <colour>    a device received an alert
  KILLED <ID>             a device died without disconnecting

commands (stdin, one a line):
  kill <ID>               the device dies without DISCONNECT, so its will is published
  quiet <ID>              the device stops sending fixes and motion, still connected

passwords come from MWM_STOMP_PASSWORD and MWM_MQTT_PASSWORD, never from the URL;
with --credentials FILE (as `mwm-tui brokers config` writes it) each device logs in
as its own id with its own password instead.
Ctrl-C or SIGTERM disconnects every device cleanly and exits with status 0."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line on stderr and status 2, as for any other bad argument."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _positive_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mwm-sim",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    brokers = parser.add_argument_group("brokers")
    brokers.add_argument(
        "--stomp",
        metavar="URL",
        default="stomp://localhost:61613",
        help="STOMP broker, stomp:// or stomp+ssl:// (default: %(default)s)",
    )
    brokers.add_argument(
        "--stomp-vhost",
        metavar="NAME",
        default=os.environ.get("MWM_STOMP_VHOST") or DEFAULT_VHOST,
        help="virtual host in STOMP's host header: RabbitMQ's vhost, ActiveMQ ignores it "
        "(default: MWM_STOMP_VHOST or /)",
    )
    brokers.add_argument(
        "--mqtt",
        metavar="URL",
        default="mqtt://localhost:1883",
        help="MQTT broker, mqtt:// or mqtts:// (default: %(default)s)",
    )
    brokers.add_argument(
        "--cafile",
        metavar="FILE",
        default=os.environ.get("MWM_CAFILE") or None,
        help="trust the CA certificates in this PEM file for stomp+ssl:// and mqtts:// "
        "(default: MWM_CAFILE, else the system's CAs)",
    )
    brokers.add_argument(
        "--credentials",
        metavar="FILE",
        help="'ID PASSWORD' lines: each device logs in as its id with its own password "
        "(every device needs a line; the file must be its owner's alone)",
    )
    fleet = parser.add_argument_group("fleet")
    fleet.add_argument(
        "--devices",
        metavar="N",
        type=_positive_int,
        default=5,
        help="number of devices (default: %(default)s)",
    )
    fleet.add_argument(
        "--prefix",
        metavar="P",
        default="truck-",
        help="device ids are P01, P02, ... (default: %(default)s)",
    )
    fleet.add_argument(
        "--ids",
        metavar="A,B,C",
        help="explicit comma-separated device ids, instead of --devices and --prefix",
    )
    fleet.add_argument(
        "--seed",
        metavar="S",
        type=int,
        default=1,
        help="seed of the routes; the same seed drives the same routes (default: %(default)s)",
    )
    fleet.add_argument(
        "--processes",
        metavar="N",
        type=_positive_int,
        default=1,
        help="processes the devices are spread over, one event loop each; about one per "
        "5,000 devices at 1 Hz (default: %(default)s)",
    )
    timing = parser.add_argument_group("timing")
    timing.add_argument(
        "--location-interval",
        metavar="SEC",
        type=_positive_seconds,
        default=2.0,
        help="seconds between GPS fixes of a device (default: %(default)s)",
    )
    timing.add_argument(
        "--motion-interval",
        metavar="SEC",
        type=_positive_seconds,
        default=1.0,
        help="seconds between motion messages of a device (default: %(default)s)",
    )
    timing.add_argument(
        "--connect-rate",
        metavar="N",
        type=_positive_rate,
        default=DEFAULT_CONNECT_RATE,
        help="new connections a second, over all devices and both protocols, at the start "
        "and when a broker comes back (default: %(default)g)",
    )
    timing.add_argument(
        "--kill-after",
        metavar="ID:SECONDS",
        action="append",
        default=[],
        help="device ID dies without DISCONNECT SECONDS after start (repeatable)",
    )
    return parser


def _device_ids(args: argparse.Namespace) -> list[str]:
    if args.ids is not None:
        chosen = [part.strip() for part in args.ids.split(",") if part.strip()]
        if not chosen:
            raise ValueError("--ids names no device")
    else:
        chosen = simulation.device_ids(args.prefix, args.devices)
    seen: set[str] = set()
    for device_id in chosen:
        problem = ids.id_problem(device_id)
        if problem is not None:
            raise ValueError(f"device id {literal(device_id)!r} cannot be used: {problem}")
        if device_id in seen:
            raise ValueError(f"device id {literal(device_id)!r} is given twice")
        seen.add(device_id)
    return chosen


def _kill_plan(specs: list[str], device_ids: list[str]) -> list[tuple[str, float]]:
    plan = []
    for spec in specs:
        device_id, colon, seconds = spec.rpartition(":")
        if not colon or not device_id:
            raise ValueError(f"--kill-after {literal(spec)!r} is not ID:SECONDS")
        if device_id not in device_ids:
            raise ValueError(f"--kill-after names {literal(device_id)!r}, not one of the devices")
        try:
            delay = float(seconds)
        except ValueError:
            problem = f"{seconds!r} is not a number of seconds"
            raise ValueError(f"--kill-after {literal(spec)!r}: {problem}") from None
        if not 0 <= delay < float("inf"):
            raise ValueError(f"--kill-after {literal(spec)!r}: seconds must be 0 or more")
        plan.append((device_id, delay))
    return plan


def _target(
    url: str, protocol: Protocol, password_variable: str, cafile: str | None
) -> BrokerTarget:
    target = parse_target(url, protocol).with_password(os.environ.get(password_variable) or None)
    return target.with_tls_options(TlsOptions(cafile=cafile)) if cafile else target


def _device_passwords(path: str | None, device_ids: list[str]) -> dict[str, str]:
    """Each device's password from the credentials file; ValueError names what is wrong."""
    if path is None:
        return {}
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            raise ValueError(
                f"{path} holds passwords and group or others can access it "
                f"(mode {mode:04o}); fix it with: chmod 600 {path}"
            )
        with open(path, encoding="utf-8") as stream:
            passwords = parse_credentials(stream.read(), path)
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    except (AccessError, UnicodeDecodeError) as error:
        raise ValueError(str(error)) from None
    missing = [device_id for device_id in device_ids if device_id not in passwords]
    if missing:
        names = ", ".join(literal(device_id) for device_id in missing[:5])
        raise ValueError(f"{path} has no password for {names}")
    return {device_id: passwords[device_id] for device_id in device_ids}


def _raise_file_limit(devices: int) -> str | None:
    """Let this process hold two sockets a device; why it cannot, or None."""
    needed = 2 * devices + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted_hard = hard if hard == resource.RLIM_INFINITY or hard >= needed else needed
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, wanted_hard))
        except (ValueError, OSError):
            return (
                f"{devices:,} devices in one process need {needed:,} file descriptors and "
                f"the limit is {hard:,}: raise it (ulimit -n) or spread them with --processes"
            )
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        stomp_target = _target(
            args.stomp, Protocol.STOMP, "MWM_STOMP_PASSWORD", args.cafile
        ).with_vhost(args.stomp_vhost)
        mqtt_target = _target(args.mqtt, Protocol.MQTT, "MWM_MQTT_PASSWORD", args.cafile)
        device_ids = _device_ids(args)
        kills = _kill_plan(args.kill_after, device_ids)
        passwords = _device_passwords(args.credentials, device_ids)
    except (TargetError, ValueError) as error:
        print(f"mwm-sim: error: {error}", file=sys.stderr)
        return 2
    trucks = simulation.make_trucks(device_ids, args.seed)
    shares = split(trucks, args.processes)
    problem = _raise_file_limit(max(len(share) for share in shares))
    if problem is not None:
        print(f"mwm-sim: error: {problem}", file=sys.stderr)
        return 2

    settings = SimSettings(
        stomp_target,
        mqtt_target,
        location_interval=args.location_interval,
        motion_interval=args.motion_interval,
        connect_rate=args.connect_rate / len(shares),
        passwords=passwords,
    )
    say, complain = LineWriter(sys.stdout), LineWriter(sys.stderr)
    complain(
        f"mwm-sim: {len(device_ids)} devices, STOMP {stomp_target.display()}, "
        f"MQTT {mqtt_target.display()}" + (f", {len(shares)} processes" if len(shares) > 1 else "")
    )

    def make_fleet(share: list[simulation.SimulatedTruck], output: WorkerOutput) -> FleetSimulator:
        fleet = FleetSimulator(
            settings, share, output.say, output.complain, on_status=output.status
        )
        _plan_kills(fleet, kills, share)
        return fleet

    runner: FleetSimulator | WorkerPool
    if len(shares) == 1:
        runner = FleetSimulator(settings, trucks, say, complain)
        _plan_kills(runner, kills, trucks)
    else:
        runner = WorkerPool(shares, make_fleet, say, complain)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        runner.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if sys.stdin is not None:
        threading.Thread(
            target=serve_commands,
            args=(sys.stdin, fleet_commands(runner.kill, runner.quiet), complain),
            name="mwm-sim-stdin",
            daemon=True,
        ).start()
    if isinstance(runner, WorkerPool):
        return runner.run()
    runner.run()
    return 0


def _plan_kills(
    fleet: FleetSimulator, kills: list[tuple[str, float]], share: list[simulation.SimulatedTruck]
) -> None:
    mine = {truck.device_id for truck in share}
    for device_id, delay in kills:
        if device_id in mine:
            fleet.kill_after(device_id, delay)


if __name__ == "__main__":
    sys.exit(main())
