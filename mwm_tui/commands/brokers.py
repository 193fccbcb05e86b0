"""``mwm-tui brokers config``: broker configurations for a fleet where only a truck speaks for
itself, and how to start each broker and client on them."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from mwm_tui.adapters.broker_configs import (
    FleetConfigError,
    FleetPlan,
    WrittenFleet,
    write_fleet,
)
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.domain.fleet_access import (
    DEFAULT_HQ_USER,
    AccessError,
    fleet_accounts,
    read_device_ids,
)

DESCRIPTION = """\
Write the configuration of Mosquitto and ActiveMQ (or of RabbitMQ, as a script of
rabbitmqctl commands) for a locked-down fleet: every truck and HQ log in with a
password of their own; a truck may send only its own positions, motion and will
and read only its own orders and alerts; HQ reads the fleet and sends orders and
alerts; a client without an account gets nothing.

DIR/mosquitto/   mosquitto.conf, passwords (PBKDF2-SHA512 hashes), acl
DIR/activemq/    activemq.xml, login.config, users and groups properties
DIR/rabbitmq/    setup.sh (holds the passwords: run it once, then delete it)
DIR/credentials  one "ID PASSWORD" line per account, HQ's first: hand each
                 its line once, then delete the file"""


def brokers_parser() -> argparse.ArgumentParser:
    parse = TeachingParser(
        prog="mwm-tui brokers",
        description="Broker set-up for mwm-tui's fleet.",
    )
    commands = parse.add_subparsers(dest="command", metavar="COMMAND", required=True)
    config = commands.add_parser(
        "config",
        help="write locked-down broker configurations",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    config.add_argument(
        "--devices", metavar="FILE", required=True, help="the trucks' ids, one a line"
    )
    config.add_argument(
        "--out", metavar="DIR", required=True, help="a new (or empty) directory to write into"
    )
    config.add_argument(
        "--hq-user",
        metavar="NAME",
        default=DEFAULT_HQ_USER,
        help="HQ's user name [default: %(default)s]",
    )
    config.add_argument(
        "--bind",
        metavar="ADDRESS",
        default="127.0.0.1",
        help="the address both brokers listen on [default: %(default)s]",
    )
    config.add_argument(
        "--mqtt-port",
        metavar="PORT",
        type=_port,
        help="Mosquitto's port [default: 8883 with TLS, else 1883]",
    )
    config.add_argument(
        "--stomp-port",
        metavar="PORT",
        type=_port,
        help="ActiveMQ's STOMP port [default: 61612 with TLS, else 61613]",
    )
    config.add_argument(
        "--tls-cert", metavar="PEM", help="listen with TLS only, with this certificate (chain)"
    )
    config.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    return parse


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def _report(written: WrittenFleet, trucks: int, hq_user: str) -> str:
    quoted = shlex.join
    credentials = written.credentials
    lines = [
        f"Wrote a locked-down fleet of {trucks} truck{'s' if trucks != 1 else ''} and HQ "
        f"({hq_user}) in {written.directory}",
        f"Passwords: {credentials} (0600): hand each truck its line and HQ its own, then",
        "delete the file; they are not kept anywhere else in clear but ActiveMQ's",
        "users.properties and RabbitMQ's setup.sh.",
        "",
        f"Mosquitto (MQTT, {written.mqtt_url}):",
        f"  {quoted(written.mosquitto_command())}",
        f"ActiveMQ (STOMP, {written.stomp_url}), on Debian's package; elsewhere set",
        "activemq.home and the jar's path to your installation:",
        f"  {quoted(written.activemq_command())}",
        "Or RabbitMQ for both (rabbitmq_stomp and rabbitmq_mqtt enabled), instead of the two:",
        f"  sh {shlex.quote(str(written.rabbitmq_script))}",
        "",
        "HQ (its password from the credentials file, in the environment):",
        "  export MWM_STOMP_PASSWORD=... MWM_MQTT_PASSWORD=...",
        f"  mwm-tui --stomp {_with_user(written.stomp_url, hq_user)}"
        f" --mqtt {_with_user(written.mqtt_url, hq_user)}",
        "Simulated trucks, each with its own account:",
        f"  mwm-sim --credentials {shlex.quote(str(credentials))} --ids ID,ID,..."
        f" --stomp {written.stomp_url} --mqtt {written.mqtt_url}",
    ]
    if written.stomp_url.startswith("stomp+ssl"):
        lines.append("(with a private CA, add --cafile CA.pem to both)")
    return "\n".join([*lines, *written.notes]) + "\n"


def _with_user(url: str, user: str) -> str:
    scheme, _, rest = url.partition("://")
    return shlex.quote(f"{scheme}://{user}@{rest}")


def brokers_main(argv: Sequence[str]) -> int:
    args = brokers_parser().parse_args(argv)
    try:
        devices_file = Path(args.devices)
        device_ids = read_device_ids(devices_file.read_text(encoding="utf-8"), str(devices_file))
        accounts = fleet_accounts(device_ids, args.hq_user)
        plan = FleetPlan(
            accounts,
            bind=args.bind,
            mqtt_port=args.mqtt_port,
            stomp_port=args.stomp_port,
            tls_cert=Path(args.tls_cert) if args.tls_cert else None,
            tls_key=Path(args.tls_key) if args.tls_key else None,
        )
        written = write_fleet(Path(args.out), plan)
    except (AccessError, FleetConfigError) as error:
        print(f"mwm-tui brokers config: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"mwm-tui brokers config: error: {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"mwm-tui brokers config: error: {args.devices} is not UTF-8", file=sys.stderr)
        return 2
    sys.stdout.write(_report(written, len(device_ids), args.hq_user))
    return 0
