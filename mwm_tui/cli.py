"""``mwm-tui``: the command line of the dashboard."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from mwm_tui import __version__
from mwm_tui.config import (
    DEFAULT_MQTT_URL,
    DEFAULT_STOMP_URL,
    ConfigError,
    Settings,
    config_path,
    load_settings,
)
from mwm_tui.domain.targets import TargetError
from mwm_tui.ui.app import create_app

_EPILOG = f"""\
every option can also be set as an MWM_* variable (MWM_STOMP, MWM_MQTT, MWM_DEMO,
MWM_DEVICES, MWM_STALE_AFTER, ...) or in the TOML file {config_path()}
(keys like stomp = "stomp://hq@broker:61613"); the command line wins over both.
failover: several brokers per protocol, comma-separated (--stomp URL,URL, MWM_MQTT=URL,URL)
or a TOML list (stomp = ["stomp://a:61613", "stomp://b:61613"]); HQ moves to the next one
when a broker fails, and the event log names the broker each link is on.
passwords: MWM_STOMP_PASSWORD and MWM_MQTT_PASSWORD, or stomp_password / mqtt_password
in the config file; never on the command line.

examples:
  mwm-tui --demo                     a simulated fleet in this process, no broker needed
  mwm-tui --stomp stomp://hq@broker:61613 --mqtt mqtt://broker:1883
  mwm-tui --stomp stomp://a:61613,stomp://b:61613 --mqtt mqtt://a:1883,mqtt://b:1883

keys: ? shows them all; r reconnects both links now; q quits.
"""


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="mwm-tui",
        description="Live dashboard of a truck fleet: positions over STOMP, motion over MQTT,\n"
        "orders and alerts from the keyboard.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
        help="client id HQ uses on both brokers [default: MQTT mwm-tui-<host>-<random>, "
        "STOMP none]",
    )
    parse.add_argument(
        "--log-file",
        metavar="PATH",
        help="append link and broker diagnostics to this file (the screen is the dashboard's)",
    )
    return parse


def settings_from(argv: Sequence[str] | None) -> Settings:
    args = parser().parse_args(argv)
    settings = load_settings(vars(args), os.environ)
    settings.stomp_targets()
    settings.mqtt_targets()
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = settings_from(argv)
    except (ConfigError, TargetError) as error:
        print(f"mwm-tui: error: {error}", file=sys.stderr)
        return 2
    if settings.log_file:
        try:
            logging.basicConfig(
                filename=settings.log_file,
                level=logging.INFO,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        except OSError as error:
            print(f"mwm-tui: error: cannot write the log file: {error}", file=sys.stderr)
            return 2
    create_app(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
