"""``mwm-tui``: the command line of the dashboard."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from mwm_tui import __version__
from mwm_tui.adapters.export import WRITERS, ExportFormat, Selection, fixes_of
from mwm_tui.adapters.heap import tune_malloc
from mwm_tui.adapters.lifetime import end_with_parent
from mwm_tui.adapters.overlay_file import load_overlays
from mwm_tui.adapters.recording import Recorder, RecordError, RecordReader
from mwm_tui.adapters.replay import SPEEDS
from mwm_tui.adapters.store import HistoryEntry, StoreBusyError, StoreError, read_history
from mwm_tui.adapters.tls import TlsSetupError, client_context
from mwm_tui.composition import create_app, create_replay_app
from mwm_tui.config import (
    DEFAULT_MQTT_URL,
    DEFAULT_STOMP_URL,
    ConfigError,
    Settings,
    config_path,
    data_path,
    load_settings,
)
from mwm_tui.domain.overlay import OverlayError
from mwm_tui.domain.targets import TargetError
from mwm_tui.domain.text import literal
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.notice import StartupNotice

_EPILOG = f"""\
every option can also be set as an MWM_* variable (MWM_STOMP, MWM_MQTT, MWM_DEMO,
MWM_DEVICES, MWM_STALE_AFTER, ...) or in the TOML file {config_path()}
(keys like stomp = "stomp://hq@broker:61613"); the command line wins over both.
failover: several brokers per protocol, comma-separated (--stomp URL,URL, MWM_MQTT=URL,URL)
or a TOML list (stomp = ["stomp://a:61613", "stomp://b:61613"]); HQ moves to the next one
when a broker fails, and the status bar names the broker each link is on.
passwords: MWM_STOMP_PASSWORD and MWM_MQTT_PASSWORD, or stomp_password / mqtt_password
in the config file (which then must be the owner's alone: chmod 600); never in a URL or on
the command line. TLS: --cafile, --cert/--key, --tls-server-name, --insecure, also as
MWM_CAFILE, ... and cafile = "...", ... in the config file.
overlays: --overlay FILE (repeatable), MWM_OVERLAY=a.geojson,b.geojson or overlay = [...]
draw GeoJSON depots (points with a "name"), zones and routes; a polygon whose properties say
"geofence": true is watched: trucks entering or leaving it are logged and kept in the history.

examples:
  mwm-tui --demo                     a simulated fleet in this process, no broker needed
  mwm-tui --stomp stomp://hq@broker:61613 --mqtt mqtt://broker:1883
  mwm-tui --stomp stomp://a:61613,stomp://b:61613 --mqtt mqtt://a:1883,mqtt://b:1883

keys: ? shows them all; r reconnects both links now; q quits.

orders and alerts made while a link is down wait in an outbox (SQLite, in --data-dir) and are
sent when it is back; what happened is kept there too: mwm-tui history --help
in a web browser instead of a terminal: mwm-tui serve --help

record a shift with --record FILE, then play it back: mwm-tui replay --help,
or take its positions out as CSV, GPX or GeoJSON: mwm-tui export --help
"""

_HISTORY_EPILOG = """\
TIME is an ISO date or date and time in local time (2026-11-30, 2026-11-30T14:05)
or an age such as 90s, 30m, 2h, 7d.
"""
_RECORD_FILES = "record file(s): FILE and, for a rotated record, FILE.1 ... in any order"
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="mwm-tui",
        description="Live dashboard of a truck fleet: positions over STOMP, motion over MQTT,\n"
        "orders and alerts from the keyboard.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_dashboard_options(parse)
    return parse


def add_dashboard_options(parse: argparse.ArgumentParser) -> None:
    """The dashboard's options, shared by ``mwm-tui`` and ``mwm-tui serve``."""
    parse.add_argument(
        "--stomp",
        metavar="URL[,URL]",
        help=f"STOMP broker(s) (ActiveMQ), in failover order [default: {DEFAULT_STOMP_URL}]",
    )
    parse.add_argument(
        "--mqtt",
        metavar="URL[,URL]",
        help=f"MQTT broker(s) (Mosquitto), in failover order [default: {DEFAULT_MQTT_URL}]",
    )
    parse.add_argument(
        "--stomp-vhost",
        metavar="NAME",
        help="virtual host named in STOMP's host header: RabbitMQ's vhost, ActiveMQ ignores it "
        "[default: /]",
    )
    parse.add_argument(
        "--demo",
        action="store_const",
        const=True,
        help="run an embedded simulated fleet instead of connecting to brokers",
    )
    parse.add_argument(
        "--devices", type=int, metavar="N", help="trucks in the demo fleet [default: 20]"
    )
    parse.add_argument("--seed", type=int, metavar="S", help="demo routes seed [default: 2014]")
    parse.add_argument(
        "--stale-after",
        type=float,
        metavar="SEC",
        help="a silent device turns stale after this long [default: 15]",
    )
    parse.add_argument(
        "--offline-after",
        type=float,
        metavar="SEC",
        help="a silent device turns offline after this long [default: 120]",
    )
    parse.add_argument(
        "--client-id",
        metavar="ID",
        help="client id HQ uses: ID on MQTT, ID.stomp on STOMP, so one broker serving both "
        "never sees it twice [default: MQTT mwm-tui-<host>-<random>, kept for the run; STOMP none]",
    )
    parse.add_argument(
        "--max-devices",
        type=int,
        metavar="N",
        help="devices HQ tracks at most; past it new ids are rejected as 'device limit', "
        "known trucks are never dropped [default: 10000]",
    )
    parse.add_argument(
        "--order-expiry",
        type=float,
        metavar="SEC",
        help="an order or alert not sent within this long is dropped as expired [default: 900]",
    )
    parse.add_argument(
        "--history-days",
        type=float,
        metavar="DAYS",
        help="history older than this is pruned [default: 30]",
    )
    parse.add_argument(
        "--data-dir",
        metavar="PATH",
        help="where the outbox and history live [default: $XDG_DATA_HOME/mwm-tui]",
    )
    tls = parse.add_argument_group(
        "TLS (stomp+ssl:// and mqtts:// brokers; the same flags as mosquitto_sub)"
    )
    tls.add_argument(
        "--cafile",
        metavar="FILE",
        help="trust the CA certificates in this PEM file instead of the system's",
    )
    tls.add_argument("--cert", metavar="FILE", help="client certificate (PEM), with --key")
    tls.add_argument("--key", metavar="FILE", help="private key of --cert (PEM)")
    tls.add_argument(
        "--tls-server-name",
        metavar="NAME",
        help="check the broker's certificate for this name instead of the URL's host",
    )
    tls.add_argument(
        "--insecure",
        action="store_const",
        const=True,
        help="do not verify the broker's certificate or name (the status bar says INSECURE)",
    )
    parse.add_argument(
        "--overlay",
        metavar="FILE",
        action="append",
        help="draw this GeoJSON file's depots, zones and routes on the map (repeatable)",
    )
    parse.add_argument(
        "--ascii",
        action="store_const",
        const=True,
        help="draw with ASCII characters only [default: when the locale is not UTF-8]",
    )
    parse.add_argument(
        "--screenshot-dir",
        metavar="PATH",
        help="where the palette's Screenshot saves its SVG [default: the current directory]",
    )
    parse.add_argument(
        "--record",
        metavar="FILE",
        help="write every message received and every order and alert sent to FILE as JSON "
        "lines, for mwm-tui replay and export",
    )
    parse.add_argument(
        "--record-max-mb",
        type=float,
        metavar="MB",
        help="rotate the record file past this size, keeping FILE.1 to FILE.3 [default: 100]",
    )
    parse.add_argument(
        "--log-file",
        metavar="PATH",
        help="append link and broker diagnostics to this file (the screen is the dashboard's)",
    )


def settings_from(argv: Sequence[str] | None) -> Settings:
    return settings_from_args(parser().parse_args(argv), os.environ)


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """Settings from parsed options over the environment and file, checked as the app needs."""
    if args.overlay:
        args.overlay = ",".join(args.overlay)
    settings = load_settings(vars(args), environ)
    try:
        load_overlays(settings.overlay_files())
    except OverlayError as error:
        raise ConfigError(f"overlay {error}") from None
    targets = settings.stomp_targets() + settings.mqtt_targets()
    if any(target.tls for target in targets) and not settings.demo:
        client_context(settings.tls_options())
    return settings


def history_parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="mwm-tui history",
        description="Print what HQ recorded: orders and alerts with their outcomes, status\n"
        "transitions, last wills, link changes and geofence crossings, oldest first.",
        epilog=_HISTORY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--device", metavar="ID", help="only this device")
    parse.add_argument("--since", metavar="TIME", help="only from this time on")
    parse.add_argument("--json", action="store_true", help="one JSON object a line")
    parse.add_argument(
        "--data-dir", metavar="PATH", help="the data directory [default: $XDG_DATA_HOME/mwm-tui]"
    )
    return parse


def parse_since(text: str, now: float, flag: str = "--since") -> float:
    """An ISO date/time (local time unless it says otherwise) or an age like 2h; epoch seconds."""
    age = _AGE.match(text)
    if age:
        return now - float(age.group(1)) * _UNIT[age.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r}: not a date/time (2026-11-30T14:05) or age (2h)"
        ) from None


def _history_line(entry: HistoryEntry) -> str:
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.at))
    device = literal(entry.device_id or "-", 24)
    return f"{at}  {entry.kind:<6}  {device:<24}  {literal(entry.text)}"


def history_main(argv: Sequence[str]) -> int:
    args = history_parser().parse_args(argv)
    try:
        settings = load_settings({"data_dir": args.data_dir}, os.environ)
        since = parse_since(args.since, time.time()) if args.since else None
        entries = read_history(data_path(settings), args.device, since)
    except (ConfigError, StoreError) as error:
        print(f"mwm-tui history: error: {error}", file=sys.stderr)
        return 2
    for entry in entries:
        if args.json:
            record = {
                "at": datetime.fromtimestamp(entry.at).astimezone().isoformat(),
                "kind": entry.kind,
                "device": entry.device_id,
                "text": entry.text,
                "dispatch": entry.dispatch_id,
            }
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(_history_line(entry))
    if not entries and not args.json:
        print("(nothing recorded for this selection)", file=sys.stderr)
    return 0


def open_recorder(settings: Settings) -> Recorder | None:
    """The ``--record`` writer, or None; raises RecordError when the file cannot be opened."""
    if not settings.record:
        return None
    max_bytes = int(settings.record_max_mb * 1024 * 1024)
    return Recorder(Path(settings.record).expanduser(), max_bytes=max_bytes)


def replay_parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="mwm-tui replay",
        description="Play a record file (mwm-tui --record FILE) back in the dashboard: the list,\n"
        "map, motion and log as they were. Nothing is sent to any broker.",
        epilog="keys: Space pauses, . steps a message, , steps a second, ] and [ change the\n"
        "speed (x1 to x60), J jumps to a time; ? shows them all.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("files", nargs="+", metavar="FILE", help=_RECORD_FILES)
    parse.add_argument("--speed", type=int, choices=SPEEDS, default=1, help="start at this speed")
    parse.add_argument("--paused", action="store_true", help="start paused at the first record")
    parse.add_argument(
        "--stale-after", type=float, metavar="SEC", help="as for mwm-tui [default: 15]"
    )
    parse.add_argument(
        "--offline-after", type=float, metavar="SEC", help="as for mwm-tui [default: 120]"
    )
    parse.add_argument(
        "--ascii", action="store_const", const=True, help="draw with ASCII characters only"
    )
    return parse


def load_records(files: Sequence[str], what: str) -> RecordReader:
    """The records of ``files``; raises RecordError when one cannot be read or none is usable."""
    reader = RecordReader.load(files)
    if not reader.records:
        bad = f" ({reader.bad_lines} unreadable lines)" if reader.bad_lines else ""
        raise RecordError(f"nothing to {what} in {', '.join(files)}{bad}")
    return reader


def replay_main(argv: Sequence[str]) -> int:
    args = replay_parser().parse_args(argv)
    try:
        settings = load_settings(
            {
                "stale_after": args.stale_after,
                "offline_after": args.offline_after,
                "ascii": args.ascii,
            },
            os.environ,
        )
        reader = load_records(args.files, "replay")
    except (ConfigError, RecordError) as error:
        print(f"mwm-tui replay: error: {error}", file=sys.stderr)
        return 2
    if not has_terminal():
        print(f"mwm-tui replay: error: {NO_TERMINAL}", file=sys.stderr)
        return 2
    try:
        app = create_replay_app(settings, [Path(f) for f in args.files], reader)
    except OverlayError as error:
        print(f"mwm-tui replay: error: overlay {error}", file=sys.stderr)
        return 2
    app.player.clock.set_speed(args.speed)
    app.player.start_paused = args.paused
    app.run()
    return 0


def export_parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="mwm-tui export",
        description="Write the positions in a record file (mwm-tui --record FILE) as CSV, GPX 1.1\n"
        "(a track a truck) or GeoJSON (a feature a truck, its id in deviceID).\n"
        "Times are when HQ received each fix, in UTC.",
        epilog=_HISTORY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("files", nargs="+", metavar="FILE", help=_RECORD_FILES)
    parse.add_argument(
        "--format", required=True, choices=[f.value for f in ExportFormat], help="what to write"
    )
    parse.add_argument("--device", metavar="ID", help="only this truck")
    parse.add_argument("--since", metavar="TIME", help="only fixes received from this time on")
    parse.add_argument("--until", metavar="TIME", help="only fixes received up to this time")
    parse.add_argument("-o", "--output", metavar="OUT", help="write here [default: stdout]")
    return parse


def export_main(argv: Sequence[str]) -> int:
    args = export_parser().parse_args(argv)
    try:
        now = time.time()
        selection = Selection(
            args.device,
            parse_since(args.since, now) if args.since else None,
            parse_since(args.until, now, "--until") if args.until else None,
        )
        reader = load_records(args.files, "export")
        text = WRITERS[ExportFormat(args.format)](fixes_of(reader.records, selection))
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    except (ConfigError, RecordError) as error:
        print(f"mwm-tui export: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        said = f"cannot write {args.output}: {error.strerror}"
        print(f"mwm-tui export: error: {said}", file=sys.stderr)
        return 2
    return 0


NO_TERMINAL = "no terminal (stdin/stdout not a TTY); run it in a terminal or over ssh -t"


def has_terminal(environ: Mapping[str, str] = os.environ) -> bool:
    """A TTY on stdin and stdout, or a Textual driver named by the environment (browser mode)."""
    if environ.get("TEXTUAL_DRIVER"):
        return True  # textual-serve and textual-web run the app without a terminal
    return sys.stdin.isatty() and sys.stdout.isatty()


def in_browser(environ: Mapping[str, str] = os.environ) -> bool:
    """Run by textual-serve (or textual-web): the screen is a browser tab, stderr the server's."""
    return "web_driver" in environ.get("TEXTUAL_DRIVER", "")


# Set by ``mwm-tui serve`` for its tabs' dashboards, which end when it does.
SERVER_PID = "MWM_SERVE_PID"

# A reloaded tab's new dashboard may start while the old one is still closing the outbox.
OUTBOX_WAIT_IN_BROWSER = 5.0


def _fail(message: str) -> int:
    print(f"mwm-tui: error: {message}", file=sys.stderr)
    if in_browser():
        StartupNotice(f"mwm-tui: {message}").run()
    return 2


def _open_dashboard(settings: Settings, recorder: Recorder | None) -> MwmApp:
    deadline = time.monotonic() + (OUTBOX_WAIT_IN_BROWSER if in_browser() else 0.0)
    while True:
        try:
            return create_app(settings, recorder=recorder)
        except StoreBusyError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["history"]:
        return history_main(arguments[1:])
    if arguments[:1] == ["serve"]:
        # Imported here: the dashboard itself never loads aiohttp.
        from mwm_tui.commands.serve import serve_main  # noqa: PLC0415

        return serve_main(arguments[1:])
    if arguments[:1] == ["replay"]:
        return replay_main(arguments[1:])
    if arguments[:1] == ["export"]:
        return export_main(arguments[1:])
    try:
        settings = settings_from(arguments)
    except (ConfigError, TargetError, TlsSetupError) as error:
        return _fail(str(error))
    if settings.log_file:
        try:
            logging.basicConfig(
                filename=settings.log_file,
                level=logging.INFO,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        except OSError as error:
            return _fail(f"cannot write the log file: {error}")
    tune_malloc()
    try:
        recorder = open_recorder(settings)
    except RecordError as error:
        return _fail(str(error))
    try:
        if not has_terminal():
            print(f"mwm-tui: error: {NO_TERMINAL}", file=sys.stderr)
            return 2
        server = os.environ.get(SERVER_PID, "")
        if in_browser() and server.isdigit():
            end_with_parent(int(server))
        try:
            app = _open_dashboard(settings, recorder)
        except StoreBusyError as error:
            where = " (in a browser: another tab has it; close that tab and reload)"
            return _fail(f"{error}{where if in_browser() else ''}")
        except (StoreError, OverlayError) as error:
            return _fail(str(error))
        app.run()
    finally:
        if recorder is not None:
            recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
