"""A locked-down fleet for tests: configurations from ``mwm-tui brokers config`` and
Mosquitto and ActiveMQ started with the very commands it prints."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .brokers import HOST, Broker, BrokerNotInstalledError, free_port
from .pki import KeyPair

ROOT = Path(__file__).resolve().parents[2]


def mwm_tui_command() -> list[str]:
    """The ``mwm-tui`` console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("mwm-tui")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mwm_tui.cli"]


class PrintedBroker(Broker):
    """A broker run with a command ``mwm-tui brokers config`` printed, on the port it wrote.

    Ready once its port takes a TCP connection (TLS or not, logins or not)."""

    def __init__(self, name: str, command: list[str], port: int, workdir: Path) -> None:
        self.name = name  # type: ignore[misc]
        self._printed = command
        super().__init__(port, workdir)

    def _check_installed(self) -> None:
        if shutil.which(self._printed[0]) is None:
            raise BrokerNotInstalledError(f"`{self._printed[0]}` not found")

    def _write_config(self) -> None:
        """The configuration is the command's, written before the broker starts."""

    def _command(self) -> list[str]:
        return self._printed

    def _handshake(self, timeout: float) -> None:
        socket.create_connection((HOST, self._port), timeout=timeout).close()


@dataclass
class LockedFleet:
    """What ``mwm-tui brokers config`` wrote and printed, and the two brokers it describes."""

    directory: Path
    printed: str
    passwords: dict[str, str]
    hq_user: str
    mqtt_port: int
    stomp_port: int
    mosquitto: PrintedBroker
    activemq: PrintedBroker

    def close(self) -> None:
        self.activemq.close()
        self.mosquitto.close()
        shutil.rmtree(self.directory.parent, ignore_errors=True)


def printed_command(printed: str, program: str) -> list[str]:
    """The indented command line of the report that runs ``program``."""
    for line in printed.splitlines():
        words = shlex.split(line) if line.startswith("  ") else []
        if words and Path(words[0]).name == program:
            return words
    raise AssertionError(f"no {program} command in:\n{printed}")


def write_fleet_config(
    device_ids: list[str], tls: KeyPair | None, *, mqtt_port: int, stomp_port: int
) -> tuple[Path, str]:
    """Run ``mwm-tui brokers config`` into a new directory; return it and what it printed.

    The directory's parent lets others pass (as /tmp does), so Mosquitto started as root can
    become its own user and still reach its files.
    """
    parent = Path(tempfile.mkdtemp(prefix="mwm-fleet-"))
    os.chmod(parent, 0o711)
    ids_file = parent / "ids"
    ids_file.write_text("".join(f"{device_id}\n" for device_id in device_ids), encoding="utf-8")
    directory = parent / "fleet"
    command = [
        *mwm_tui_command(), "brokers", "config", "--devices", str(ids_file),
        "--out", str(directory), "--mqtt-port", str(mqtt_port), "--stomp-port", str(stomp_port),
    ]  # fmt: skip
    if tls is not None:
        command += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"mwm-tui brokers config failed: {done.stderr}")
    return directory, done.stdout


def read_credentials(directory: Path) -> dict[str, str]:
    lines = (directory / "credentials").read_text(encoding="utf-8").splitlines()
    return dict(line.split(" ", 1) for line in lines)


def start_locked_fleet(
    device_ids: list[str], tls: KeyPair | None, workdir: Path, hq_user: str = "hq"
) -> LockedFleet:
    """Generate the fleet's configurations on free ports and start both brokers from them."""
    mqtt_port, stomp_port = free_port(), free_port()
    while stomp_port == mqtt_port:
        stomp_port = free_port()
    directory, printed = write_fleet_config(
        device_ids, tls, mqtt_port=mqtt_port, stomp_port=stomp_port
    )
    mosquitto = PrintedBroker(
        "mosquitto", printed_command(printed, "mosquitto"), mqtt_port, workdir / "mosquitto"
    )
    activemq = PrintedBroker(
        "activemq", printed_command(printed, "java"), stomp_port, workdir / "activemq"
    )
    fleet = LockedFleet(
        directory, printed, read_credentials(directory), hq_user, mqtt_port, stomp_port,
        mosquitto, activemq,
    )  # fmt: skip
    try:
        mosquitto.start()
        activemq.start(timeout=90)
    except BaseException:
        fleet.close()
        raise
    return fleet
