"""Writes a locked-down fleet's broker configurations into one new directory.

``DIR/mosquitto/`` (mosquitto.conf, passwords, acl), ``DIR/activemq/`` (a whole ActiveMQ conf
directory), ``DIR/rabbitmq/setup.sh`` (rabbitmqctl commands) and ``DIR/credentials`` (``ID
PASSWORD`` lines, handed over once). Passwords come from ``secrets``; Mosquitto's are stored as
the PBKDF2-SHA512 hash mosquitto_passwd writes, ActiveMQ's and RabbitMQ's script's in clear
(ActiveMQ 5's JAAS properties have no hash), so every file is its owner's alone.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mwm_tui.domain.fleet_access import (
    MOSQUITTO_SALT_BYTES,
    PASSWORD_BYTES,
    Account,
    format_credentials,
    mosquitto_password_hash,
)

from . import broker_formats as formats

ACTIVEMQ_HOME = Path("/usr/share/activemq")
ACTIVEMQ_HEAP = "512M"
# The account Debian's mosquitto package makes; as root, Mosquitto turns into it.
MOSQUITTO_ACCOUNT = "mosquitto"
PLAIN_PORTS = (1883, 61613)
TLS_PORTS = (8883, 61612)


class FleetConfigError(Exception):
    """The configuration cannot be written, said in one line."""


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """What to write: the accounts (HQ's first) and where the brokers listen."""

    accounts: Sequence[Account]
    bind: str = "127.0.0.1"
    mqtt_port: int | None = None
    stomp_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


@dataclass(frozen=True, slots=True)
class WrittenFleet:
    """Where everything went, and the URLs clients use."""

    directory: Path
    credentials: Path
    mosquitto_conf: Path
    activemq_conf: Path
    rabbitmq_script: Path
    mqtt_url: str
    stomp_url: str
    mosquitto_user: str | None
    notes: list[str] = field(default_factory=list)

    def mosquitto_command(self) -> list[str]:
        return ["mosquitto", "-c", str(self.mosquitto_conf)]

    def activemq_command(self, home: Path = ACTIVEMQ_HOME, java: str = "java") -> list[str]:
        return activemq_command(self.activemq_conf, home, java)


def activemq_command(conf: Path, home: Path = ACTIVEMQ_HOME, java: str = "java") -> list[str]:
    """Run ActiveMQ in the foreground on the conf directory ``conf`` (its data in conf/data)."""
    return [
        java,
        f"-Xms{ACTIVEMQ_HEAP}",
        f"-Xmx{ACTIVEMQ_HEAP}",
        f"-Djava.security.auth.login.config={conf / 'login.config'}",
        f"-Dactivemq.home={home}",
        f"-Dactivemq.base={conf}",
        f"-Dactivemq.conf={conf}",
        f"-Dactivemq.data={conf / 'data'}",
        f"-Dactivemq.classpath={conf}",
        "-jar",
        str(home / "bin" / "activemq.jar"),
        "start",
        f"xbean:file:{conf / 'activemq.xml'}",
    ]


def _write(path: Path, content: str | bytes, mode: int = 0o600) -> None:
    """Create ``path`` (never over an existing file) with ``mode`` from the first byte on."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
    os.chmod(path, mode)  # the umask narrows O_CREAT's mode


def _new_directory(path: Path, mode: int = 0o700) -> None:
    path.mkdir(mode=mode)
    os.chmod(path, mode)


def _url(scheme: str, bind: str, port: int) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bind, bind)
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _reachable_by_others(directory: Path) -> Path | None:
    """The first directory from / down to ``directory`` that others cannot pass, else None."""
    for part in reversed([directory, *directory.parents]):
        if not stat.S_IMODE(part.stat().st_mode) & stat.S_IXOTH:
            return part
    return None


def _mosquitto_user(fleet_dir: Path, notes: list[str]) -> tuple[str | None, int | None]:
    """The user Mosquitto becomes when started as root, and the uid to give its files."""
    if os.geteuid() != 0:
        try:
            return pwd.getpwuid(os.geteuid()).pw_name, None
        except KeyError:
            return None, None
    try:
        account = pwd.getpwnam(MOSQUITTO_ACCOUNT)
    except KeyError:
        notes.append(f"Mosquitto runs as root: there is no user {MOSQUITTO_ACCOUNT} to become.")
        return "root", None
    blocked = _reachable_by_others(fleet_dir.parent)
    if blocked is not None:
        notes.append(
            f"Mosquitto runs as root: user {MOSQUITTO_ACCOUNT} cannot pass {blocked}; "
            "write the configuration under a directory it can reach to run it as that user."
        )
        return "root", None
    return MOSQUITTO_ACCOUNT, account.pw_uid


def _write_mosquitto(
    directory: Path, plan: FleetPlan, passwords: dict[str, str], port: int, notes: list[str]
) -> str | None:
    run_as, owner = _mosquitto_user(directory.parent, notes)
    _new_directory(directory)
    certfile = keyfile = None
    if plan.tls_cert is not None and plan.tls_key is not None:
        certfile, keyfile = str(directory / "server.pem"), str(directory / "server.key")
        _write(Path(certfile), plan.tls_cert.read_bytes())
        _write(Path(keyfile), plan.tls_key.read_bytes())
    hashes = {
        name: mosquitto_password_hash(password, secrets.token_bytes(MOSQUITTO_SALT_BYTES))
        for name, password in passwords.items()
    }
    _write(directory / "passwords", formats.mosquitto_passwords(hashes))
    _write(directory / "acl", formats.mosquitto_acl(plan.accounts))
    listener = formats.Listener(plan.bind, port, certfile, keyfile)
    _write(
        directory / "mosquitto.conf",
        formats.mosquitto_conf(listener, str(directory), run_as=run_as),
    )
    if owner is not None:
        for path in [directory, *directory.iterdir()]:
            os.chown(path, owner, -1)
    return run_as


def _write_keystore(plan: FleetPlan, keystore: Path, password: str) -> None:
    """A PKCS12 keystore of the TLS certificate and key, the form Java reads."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise FleetConfigError("openssl is needed to make ActiveMQ's keystore: install it")
    command = [
        openssl, "pkcs12", "-export", "-in", str(plan.tls_cert), "-inkey", str(plan.tls_key),
        "-name", "broker", "-out", str(keystore), "-passout", "env:MWM_KEYSTORE_PASSWORD",
    ]  # fmt: skip
    environment = {**os.environ, "MWM_KEYSTORE_PASSWORD": password}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no reason given"])[0]
        raise FleetConfigError(f"openssl could not make ActiveMQ's keystore: {reason}")
    os.chmod(keystore, 0o600)


def _write_activemq(directory: Path, plan: FleetPlan, passwords: dict[str, str], port: int) -> None:
    _new_directory(directory)
    _new_directory(directory / "data")
    keystore = None
    if plan.tls:
        keystore = (str(directory / "broker.p12"), secrets.token_urlsafe(PASSWORD_BYTES))
        _write_keystore(plan, Path(keystore[0]), keystore[1])
    listener = formats.Listener(plan.bind, port)
    data = str(directory / "data")
    xml = formats.activemq_xml(plan.accounts, listener, data, keystore)
    _write(directory / "activemq.xml", xml)
    _write(directory / "login.config", formats.activemq_login_config())
    _write(directory / "users.properties", formats.activemq_users(passwords))
    _write(directory / "groups.properties", formats.activemq_groups(plan.accounts))
    _write(directory / "log4j.properties", formats.activemq_log4j(f"{data}/activemq.log"))


def _check_tls_files(plan: FleetPlan) -> None:
    if (plan.tls_cert is None) != (plan.tls_key is None):
        raise FleetConfigError("--tls-cert and --tls-key go together: give both or neither")
    for path in (plan.tls_cert, plan.tls_key):
        if path is not None and not path.is_file():
            raise FleetConfigError(f"{path}: no such file")


def write_fleet(directory: Path, plan: FleetPlan) -> WrittenFleet:
    """Write every broker's files into ``directory``, which must be new or empty."""
    _check_tls_files(plan)
    directory = directory.absolute()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FleetConfigError(f"{directory} exists and is not an empty directory")
    default_mqtt, default_stomp = TLS_PORTS if plan.tls else PLAIN_PORTS
    mqtt_port = plan.mqtt_port or default_mqtt
    stomp_port = plan.stomp_port or default_stomp
    passwords = {account.name: secrets.token_urlsafe(PASSWORD_BYTES) for account in plan.accounts}
    notes: list[str] = []
    created = not directory.exists()
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        run_as = _write_mosquitto(directory / "mosquitto", plan, passwords, mqtt_port, notes)
        # Others may pass (not list) the top directory only so that Mosquitto's user reaches
        # its own files; the credentials and ActiveMQ's files stay the owner's alone.
        os.chmod(directory, 0o711 if run_as == MOSQUITTO_ACCOUNT and os.geteuid() == 0 else 0o700)
        _write_activemq(directory / "activemq", plan, passwords, stomp_port)
        _new_directory(directory / "rabbitmq")
        script = directory / "rabbitmq" / "setup.sh"
        _write(script, formats.rabbitmq_script(passwords, plan.accounts), 0o700)
        _write(directory / "credentials", format_credentials(passwords))
    except (OSError, FleetConfigError) as error:
        # Half a fleet, passwords included, is worse than none.
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            for child in directory.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        if isinstance(error, FleetConfigError):
            raise
        where = error.filename or directory
        raise FleetConfigError(f"cannot write {where}: {error.strerror}") from None
    return WrittenFleet(
        directory=directory,
        credentials=directory / "credentials",
        mosquitto_conf=directory / "mosquitto" / "mosquitto.conf",
        activemq_conf=directory / "activemq",
        rabbitmq_script=script,
        mqtt_url=_url("mqtts" if plan.tls else "mqtt", plan.bind, mqtt_port),
        stomp_url=_url("stomp+ssl" if plan.tls else "stomp", plan.bind, stomp_port),
        mosquitto_user=run_as,
        notes=notes,
    )
