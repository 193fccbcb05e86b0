"""The dashboard's options and the settings they make, shared by ``mwm-tui`` and
``mwm-tui serve``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence

from mwm_tui import __version__
from mwm_tui.adapters.overlay_file import load_overlays
from mwm_tui.adapters.tls import client_context
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.commands.registry import commands_help
from mwm_tui.config import (
    DEFAULT_MQTT_URL,
    DEFAULT_STOMP_URL,
    ConfigError,
    Settings,
    config_path,
    load_settings,
)
from mwm_tui.domain.overlay import OverlayError

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
in a web browser instead of a terminal: mwm-tui serve --help (logins: mwm-tui users --help)

record a shift with --record FILE, then play it back: mwm-tui replay --help,
or take its positions out as CSV, GPX or GeoJSON: mwm-tui export --help
"""


def parser() -> argparse.ArgumentParser:
    """``mwm-tui``'s own options: the dashboard's, with every command listed in the help."""
    parse = TeachingParser(
        prog="mwm-tui",
        usage="%(prog)s [OPTIONS]\n       %(prog)s COMMAND [OPTIONS]",
        description="Live dashboard of a truck fleet: positions over STOMP, motion over MQTT,\n"
        "orders and alerts from the keyboard.\n\n" + commands_help(),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        names_commands=True,
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
        help="where the outbox and history live: private (0700), or a team's when a group owns "
        "it with setgid and rwx (2770) [default: $XDG_DATA_HOME/mwm-tui]",
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
        "--overlay-max-points",
        type=int,
        metavar="N",
        help="refuse overlay files holding more positions than this in all [default: 100000]",
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
        help="rotate the record file past this size into FILE.1.gz, compressed by gzip "
        "(a fleet's records measured 5.2 times smaller) [default: 100]",
    )
    parse.add_argument(
        "--record-keep",
        type=int,
        metavar="N",
        help="rotated record files kept, FILE.1.gz to FILE.N.gz [default: 48: a 200-truck fleet "
        "records about 165 MB an hour, so 48 x 100 MB hold its last 30 hours, in about 1 GB]",
    )
    parse.add_argument(
        "--append",
        dest="record_append",
        action="store_const",
        const=True,
        help="add to the record FILE if it exists [default: refuse a file this run did not create]",
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
        load_overlays(settings.overlay_files(), settings.overlay_max_points)
    except OverlayError as error:
        raise ConfigError(f"overlay {error}") from None
    targets = settings.stomp_targets() + settings.mqtt_targets()
    if any(target.tls for target in targets) and not settings.demo:
        client_context(settings.tls_options())
    return settings
