"""Real Mosquitto (MQTT), ActiveMQ (STOMP) and RabbitMQ (both) brokers on 127.0.0.1.

Each broker gets a temp work dir of its own.

Used by the pytest fixtures in tests/conftest.py and, as
``python -m tests.support.brokers``, to hand a human or a benchmark a pair of brokers.
Standard library only.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import os
import random
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, ClassVar, Protocol, Self, TypeVar

HOST = "127.0.0.1"
ACTIVEMQ_HOME = Path("/usr/share/activemq")
ACTIVEMQ_JAR = ACTIVEMQ_HOME / "bin" / "activemq.jar"
MQTT_CLIENT_JAR = Path("/usr/share/java/mqtt-client.jar")
# What ActiveMQ needs to hand advisory messages to STOMP subscribers (as JSON).
ADVISORY_JARS = (Path("/usr/share/java/xstream.jar"), Path("/usr/share/java/jettison.jar"))
RABBITMQ_HOME = Path("/usr/lib/rabbitmq")
RABBITMQ_SERVER = RABBITMQ_HOME / "bin" / "rabbitmq-server"
INSTALL_HINT = (
    "run `make test` (or `scripts/bootstrap`) to install the Debian packages "
    "mosquitto, activemq, libmqtt-client-java, libxstream-java, libjettison-java "
    "and rabbitmq-server"
)
# Keystores of throwaway test certificates only: the password protects nothing.
_STORE_PASSWORD = "mwm-test"
# Connections each broker is made ready for: 10,000 simulated trucks and their HQs, twice over.
MAX_CONNECTIONS = 20_000
# File descriptors a broker may hold: a socket a connection, and its files and selectors besides.
BROKER_FILE_LIMIT = 32_768
# Ports the brokers must never take: the protocols' defaults, which a real broker may hold.
RESERVED_PORTS = frozenset({1883, 4369, 5672, 8883, 15672, 25672, 61613, 61614, 61616})


class BrokerError(RuntimeError):
    """A broker could not be started, did not become ready, or misbehaved."""


class BrokerNotInstalledError(BrokerError):
    """The broker's program is not on this machine."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that the OS reports free right now.

    Prefers ports below the kernel's ephemeral range: a client reconnecting to a dead broker
    on an ephemeral port can be handed that same port as its source and connect to itself.
    """
    low, _ = _ephemeral_range()
    if low > 10100:
        for _ in range(50):
            port = random.randrange(10000, low)
            if port not in RESERVED_PORTS and _port_is_free(port):
                return port
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def _load_prctl() -> Callable[[int, int, int, int, int], int] | None:
    if sys.platform != "linux":
        return None
    try:
        prctl: Callable[[int, int, int, int, int], int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


# Resolved up front: the pre-exec hook runs in the forked child and must do as little as it can.
_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Pre-exec hook: the kernel SIGKILLs the broker when the thread that started it ends,
    and the broker may hold ``BROKER_FILE_LIMIT`` descriptors (as far as this user may raise).

    So a test run that dies, even by SIGKILL, leaves no broker behind. Start brokers from a
    thread that outlives them (the main thread, as pytest fixtures do).
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    raise_file_limit(BROKER_FILE_LIMIT)


def raise_file_limit(wanted: int) -> int:
    """Raise this process's RLIMIT_NOFILE to ``wanted`` (the hard limit too when allowed,
    as root); the soft limit it has now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        # Not allowed above the hard limit: go as high as it lets.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _recv_until(sock: socket.socket, done: bytes | int, deadline: float) -> bytes:
    """Read until ``done`` (a terminator or a byte count) arrives, EOF, or the deadline."""
    data = b""
    while (done not in data) if isinstance(done, bytes) else (len(data) < done):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def stomp_handshake(
    port: int,
    host: str = HOST,
    timeout: float = 2.0,
    *,
    login: str | None = None,
    passcode: str | None = None,
    tls: ssl.SSLContext | None = None,
    vhost: str = "localhost",
) -> bytes:
    """Send a STOMP 1.2 CONNECT frame and return the first reply frame; raise if not CONNECTED.

    With ``tls`` the frames go over a TLS session made with that context. ``vhost`` is the
    ``host`` header: ActiveMQ ignores it, RabbitMQ takes it as the virtual host.
    """
    deadline = time.monotonic() + timeout
    credentials = b""
    if login is not None:
        credentials = f"login:{login}\npasscode:{passcode or ''}\n".encode()
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
        if tls is not None:
            sock = stack.enter_context(tls.wrap_socket(sock, server_hostname=host))
        sock.sendall(
            b"CONNECT\naccept-version:1.2\nhost:"
            + vhost.encode()
            + b"\nheart-beat:0,0\n"
            + credentials
            + b"\n\x00"
        )
        reply = _recv_until(sock, b"\x00", deadline)
        if not reply.lstrip(b"\r\n").startswith(b"CONNECTED\n"):
            raise ConnectionError(f"no STOMP CONNECTED frame, got {reply[:200]!r}")
        with contextlib.suppress(OSError):
            sock.sendall(b"DISCONNECT\n\n\x00")
        return reply


def mqtt_handshake(
    port: int,
    host: str = HOST,
    timeout: float = 2.0,
    *,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """Send an MQTT 3.1.1 CONNECT packet and return the CONNACK; raise unless it accepts."""
    deadline = time.monotonic() + timeout
    client_id = f"mwm-probe-{os.getpid()}-{random.randrange(1 << 30)}".encode()
    # Protocol name, level 4 (3.1.1), flags: clean session (+ user, password), keepalive 10 s.
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    variable_header = b"\x00\x04MQTT\x04" + bytes([flags]) + b"\x00\x0a"
    payload = struct.pack(">H", len(client_id)) + client_id
    for field in (username, password):
        if field is not None:
            payload += struct.pack(">H", len(field.encode())) + field.encode()
    body = variable_header + payload
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(bytes([0x10, len(body)]) + body)
        reply = _recv_until(sock, 4, deadline)
        if len(reply) < 4 or reply[0] != 0x20 or reply[1] != 0x02 or reply[3] != 0:
            raise ConnectionError(f"no accepting MQTT CONNACK, got {reply[:16]!r}")
        with contextlib.suppress(OSError):
            sock.sendall(b"\xe0\x00")
        return reply


def _wait_stopped(pid: int, timeout: float = 5.0) -> None:
    """Until every thread of ``pid`` is stopped (state T in /proc), or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
        if states and all(state in ("T", "t") for state in states):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop within {timeout:g} s of SIGSTOP")


class Broker:
    """One broker process on 127.0.0.1 with its own work dir; subclasses say how to run it.

    The process is SIGKILLed by the kernel when the thread that started it ends, so start
    brokers from a thread that outlives them (pytest fixtures run in the main thread).
    """

    scheme: ClassVar[str] = ""
    name: ClassVar[str] = "broker"
    startup_timeout: ClassVar[float] = 30.0
    _live: ClassVar[set[Broker]] = set()

    def __init__(self, port: int | None = None, workdir: Path | str | None = None) -> None:
        self._check_installed()
        self._port_fixed = port is not None
        self._port = port if port is not None else free_port()
        self._own_workdir = workdir is None
        self._workdir = Path(
            tempfile.mkdtemp(prefix=f"mwm-{self.name}-") if workdir is None else workdir
        )
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self._console: IO[bytes] | None = None
        self._lock = threading.RLock()
        self._launched_at = 0.0
        self.ready_seconds: float | None = None
        """Seconds from launching the process to its first successful protocol handshake."""

    # Subclass hooks

    def _check_installed(self) -> None:
        raise NotImplementedError

    def _write_config(self) -> None:
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _handshake(self, timeout: float) -> None:
        raise NotImplementedError

    def _log_files(self) -> list[Path]:
        return [self.console_log]

    def _reassign_ports(self) -> None:
        self._port = free_port()

    def _popen_environment(self) -> dict[str, str] | None:
        """The broker process's environment; None inherits ours."""
        return None

    def _process_group(self) -> int | None:
        """A process group for the broker to join; None gives it a session of its own."""
        return None

    # Public API

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{self.scheme}://{HOST}:{self._port}"

    @property
    def workdir(self) -> Path:
        return self._workdir

    @property
    def console_log(self) -> Path:
        """The process's stdout and stderr, appended across restarts."""
        return self._workdir / "console.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float | None = None) -> Self:
        """Launch the broker and wait until it answers its protocol handshake."""
        with self._lock:
            if self.is_running():
                raise BrokerError(f"{self.name} is already running (pid {self.pid})")
            # A port picked for us can be taken before the broker binds it: pick again.
            # Once the broker has run, its port is kept so clients can reconnect to it.
            attempts = 1 if self._port_fixed else 3
            for attempt in range(attempts):
                self._launch()
                try:
                    self.wait_ready(self.startup_timeout if timeout is None else timeout)
                    self._port_fixed = True
                    return self
                except BrokerError:
                    exited = self._proc is not None and self._proc.poll() is not None
                    self.kill()
                    tail = self.log_tail(80).lower()
                    # Mosquitto and Java say it in words, Erlang (RabbitMQ) by its errno.
                    bind_failed = "already in use" in tail or "eaddrinuse" in tail
                    if not (exited and bind_failed) or attempt == attempts - 1:
                        raise
                    self._reassign_ports()
            raise AssertionError("unreachable")

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Poll TCP connect plus a protocol handshake until it succeeds; return seconds waited."""
        proc = self._proc
        if proc is None:
            raise BrokerError(f"{self.name} was never started")
        start = time.monotonic()
        deadline = start + timeout
        last_error: Exception | None = None
        while True:
            code = proc.poll()
            if code is not None:
                raise BrokerError(
                    f"{self.name} exited with code {code} before it was ready on {self.url}\n"
                    + self.log_tail(40)
                )
            try:
                self._handshake(min(1.0, max(0.1, deadline - time.monotonic())))
                now = time.monotonic()
                self.ready_seconds = now - self._launched_at
                return now - start
            except (OSError, ConnectionError) as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"{self.name} not ready on {self.url} after {timeout:.1f} s "
                    f"(last error: {last_error!r})\n" + self.log_tail(40)
                )
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; return the exit code (None if idle)."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return None
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    proc.wait()
            self._close_console()
            Broker._live.discard(self)
            return proc.returncode

    def kill(self) -> None:
        """SIGKILL the broker at once, as in a crash, and reap it."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            proc.wait()
            self._close_console()
            Broker._live.discard(self)

    def freeze(self) -> None:
        """SIGSTOP the broker: its sockets stay open, it reads and answers nothing. Returns
        once every thread of it has stopped (a busy machine can take a moment)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.send_signal(signal.SIGSTOP)
                _wait_stopped(self._proc.pid)

    def thaw(self) -> None:
        """SIGCONT a frozen broker."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.send_signal(signal.SIGCONT)

    def restart(self, timeout: float | None = None) -> Self:
        """Stop gracefully and start again on the same port."""
        with self._lock:
            self.stop()
            return self.start(timeout)

    def close(self) -> None:
        """Stop the broker and remove its work dir if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of each of the broker's log files, without stack frames."""
        parts = []
        for path in self._log_files():
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            # Java stack frames crowd out the lines that say what went wrong.
            kept = [
                line
                for line in text.splitlines()
                if not line.startswith("\tat ") and not line.lstrip().startswith("... ")
            ]
            tail = "\n".join(kept[-lines:])
            parts.append(f"--- {path} (last {lines} lines) ---\n{tail}")
        return "\n".join(parts) if parts else "(no log written)"

    def __enter__(self) -> Self:
        if not self.is_running():
            try:
                self.start()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_running() else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"

    # Internals

    def _launch(self) -> None:
        self._write_config()
        self._close_console()
        self._console = self.console_log.open("ab")
        self._console.write(f"=== {time.strftime('%H:%M:%S')} starting on {self.url}\n".encode())
        self._console.flush()
        self._launched_at = time.monotonic()
        self._proc = subprocess.Popen(
            self._command(),
            cwd=self._workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            env=self._popen_environment(),
            preexec_fn=_die_with_parent,  # noqa: PLW1509
            **self._popen_group_options(),
        )
        Broker._live.add(self)

    def _popen_group_options(self) -> dict[str, Any]:
        group = self._process_group()
        # Own session: a Ctrl-C in the terminal reaches us, and we stop the broker cleanly.
        return {"start_new_session": True} if group is None else {"process_group": group}

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None


@dataclass(frozen=True)
class BrokerTls:
    """A TLS listener: the server's certificate and key, and the CA clients must come from
    when ``require_certificate``. ``probe_certfile``/``probe_keyfile``: a client certificate
    from that CA, for a readiness probe that speaks the protocol (ActiveMQ's)."""

    certfile: Path
    keyfile: Path
    cafile: Path
    require_certificate: bool = False
    probe_certfile: Path | None = None
    probe_keyfile: Path | None = None

    def probe_context(self) -> ssl.SSLContext:
        """A client context presenting the probe certificate if any; it checks nothing of the
        server's (tests give it bad certificates to examine exactly that)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self.probe_certfile is not None:
            context.load_cert_chain(self.probe_certfile, self.probe_keyfile)
        return context


class Mosquitto(Broker):
    """Mosquitto serving MQTT 3.1/3.1.1/5 on ``mqtt://127.0.0.1:PORT``.

    With ``users`` ({name: password}) it refuses anonymous clients and wrong passwords.
    """

    scheme = "mqtt"
    name = "mosquitto"
    startup_timeout = 15.0

    def __init__(
        self,
        port: int | None = None,
        workdir: Path | str | None = None,
        *,
        persistent: bool = False,
        users: dict[str, str] | None = None,
        tls: BrokerTls | None = None,
    ) -> None:
        """``persistent``: sessions and queued QoS 1 messages saved at every change (kill -9).
        ``users`` ({name: password}): refuse anonymous clients and wrong passwords.
        ``tls``: the listener speaks TLS only (``mqtts://``; ``url`` still says ``mqtt``)."""
        super().__init__(port, workdir)
        self.persistent = persistent
        self._users = dict(users or {})
        self._tls = tls

    @staticmethod
    def binary() -> str:
        found = shutil.which("mosquitto")
        if found is None:
            for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
                if os.access(candidate, os.X_OK):
                    return candidate
            raise BrokerNotInstalledError(f"`mosquitto` not found: {INSTALL_HINT}")
        return found

    @property
    def config_file(self) -> Path:
        return self._workdir / "mosquitto.conf"

    def _check_installed(self) -> None:
        self.binary()

    @property
    def password_file(self) -> Path:
        return self._workdir / "passwords"

    def _write_passwords(self) -> None:
        self.password_file.unlink(missing_ok=True)
        tool = shutil.which("mosquitto_passwd")
        if tool is None:
            raise BrokerNotInstalledError(f"`mosquitto_passwd` not found: {INSTALL_HINT}")
        for user, password in self._users.items():
            create = [] if self.password_file.exists() else ["-c"]
            subprocess.run(
                [tool, *create, "-b", str(self.password_file), user, password],
                check=True,
                capture_output=True,
            )

    def _write_config(self) -> None:
        if self._users:
            self._write_passwords()
        access = (
            ["allow_anonymous false", f"password_file {self.password_file}"]
            if self._users
            else ["allow_anonymous true"]
        )
        tls = self._tls
        lines = [
            f"listener {self._port} {HOST}",
            f"max_connections {MAX_CONNECTIONS}",
            *(
                [
                    f"cafile {tls.cafile}",
                    f"certfile {tls.certfile}",
                    f"keyfile {tls.keyfile}",
                    f"require_certificate {'true' if tls.require_certificate else 'false'}",
                ]
                if tls is not None
                else []
            ),
            *access,
            *(
                [
                    "persistence true",
                    f"persistence_location {self._workdir}/",
                    "autosave_interval 1",
                    "autosave_on_changes true",
                ]
                if self.persistent
                else ["persistence false"]
            ),
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %H:%M:%S",
        ]
        if os.geteuid() == 0:
            # As root it would switch to user mosquitto, which clears the parent-death signal.
            lines.append("user root")
        self.config_file.write_text("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        return [self.binary(), "-c", str(self.config_file)]

    def _handshake(self, timeout: float) -> None:
        if self._tls is not None:
            # Ready when the TLS listener accepts; its handshake is what the tests examine.
            socket.create_connection((HOST, self._port), timeout=timeout).close()
            return
        user, password = next(iter(self._users.items()), (None, None))
        mqtt_handshake(self._port, timeout=timeout, username=user, password=password)


# The NIO transport's worker pool grows to 1,024 threads by default: at 10,000 trucks sending a
# fix a second they kept both cores busy (185 %); 8 to 32 threads with a queue took 63 %.
_NIO_POOL = "org.apache.activemq.transport.nio.SelectorManager"
NIO_WORKERS = (
    f"-D{_NIO_POOL}.corePoolSize=8",
    f"-D{_NIO_POOL}.maximumPoolSize=32",
    f"-D{_NIO_POOL}.workQueueCapacity=4096",
)


class ActiveMQ(Broker):
    """ActiveMQ serving STOMP on ``stomp://127.0.0.1:PORT`` (and MQTT too if ``mqtt=True``).

    Its STOMP connector is the NIO one (``stomp+nio://``): a few selector threads serve every
    connection, where the plain one starts a thread per connection. With ``tls`` it is
    ``stomp+ssl://127.0.0.1:PORT`` instead, a thread per connection.
    """

    scheme = "stomp"
    name = "activemq"
    startup_timeout = 60.0
    heap = "512M"

    def __init__(
        self,
        port: int | None = None,
        workdir: Path | str | None = None,
        *,
        mqtt: bool = False,
        mqtt_port: int | None = None,
        persistent: bool = False,
        advisories: bool = False,
        users: dict[str, str] | None = None,
        tls: BrokerTls | None = None,
    ) -> None:
        """``persistent``: KahaDB keeps persistent messages across a kill -9.
        ``advisories``: put XStream and Jettison on its classpath, so it can hand advisory
        messages to STOMP subscribers (Debian's ActiveMQ cannot without them).
        ``users`` ({name: password}): refuse anonymous clients and wrong passwords.
        ``tls``: STOMP over TLS only; with ``require_certificate`` it needs the probe's
        certificate, as the readiness check must be let in."""
        super().__init__(port, workdir)
        self.persistent = persistent
        self._users = dict(users or {})
        if tls is not None and tls.require_certificate and tls.probe_certfile is None:
            raise ValueError("ActiveMQ requiring client certificates needs probe_certfile")
        self._tls = tls
        self._advisory_jars = ADVISORY_JARS if advisories else ()
        missing = [str(jar) for jar in self._advisory_jars if not jar.is_file()]
        if missing:
            raise BrokerNotInstalledError(f"{', '.join(missing)} missing: {INSTALL_HINT}")
        if mqtt and not MQTT_CLIENT_JAR.is_file():
            raise BrokerNotInstalledError(
                f"{MQTT_CLIENT_JAR} missing, ActiveMQ cannot serve MQTT: {INSTALL_HINT}"
            )
        self._mqtt_port: int | None = None
        if mqtt:
            self._mqtt_port = mqtt_port if mqtt_port is not None else free_port()
            while self._mqtt_port == self._port:
                self._mqtt_port = free_port()

    @property
    def mqtt_port(self) -> int | None:
        """The MQTT port when ActiveMQ was asked to serve MQTT, else None."""
        return self._mqtt_port

    @property
    def mqtt_url(self) -> str | None:
        return None if self._mqtt_port is None else f"mqtt://{HOST}:{self._mqtt_port}"

    @property
    def conf_dir(self) -> Path:
        return self._workdir / "conf"

    @property
    def broker_log(self) -> Path:
        return self._workdir / "activemq.log"

    @staticmethod
    def java() -> str:
        found = shutil.which("java")
        if found is None:
            raise BrokerNotInstalledError(f"`java` not found: {INSTALL_HINT}")
        return found

    def _check_installed(self) -> None:
        self.java()
        if not ACTIVEMQ_JAR.is_file():
            raise BrokerNotInstalledError(f"{ACTIVEMQ_JAR} not found: {INSTALL_HINT}")

    def _log_files(self) -> list[Path]:
        return [self.broker_log, self.console_log]

    def _reassign_ports(self) -> None:
        super()._reassign_ports()
        if self._mqtt_port is not None:
            self._mqtt_port = free_port()

    @property
    def keystore(self) -> Path:
        """PKCS12 with the TLS listener's certificate and key (Java 17 reads PKCS12)."""
        return self.conf_dir / "broker.p12"

    @property
    def truststore(self) -> Path:
        """PKCS12 with the CA that client certificates must come from."""
        return self.conf_dir / "trust.p12"

    def _write_stores(self, tls: BrokerTls) -> str:
        """Write the keystore and truststore; return the broker's ``<sslContext>`` element."""
        for store in (self.keystore, self.truststore):
            store.unlink(missing_ok=True)
        subprocess.run(
            [
                "openssl", "pkcs12", "-export", "-in", str(tls.certfile),
                "-inkey", str(tls.keyfile), "-name", "broker", "-out", str(self.keystore),
                "-passout", f"pass:{_STORE_PASSWORD}",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        # Java trusts a PKCS12 certificate only with its own attribute, which keytool writes.
        keytool = shutil.which("keytool")
        if keytool is None:
            raise BrokerNotInstalledError(f"`keytool` not found: {INSTALL_HINT}")
        subprocess.run(
            [
                keytool, "-importcert", "-noprompt", "-alias", "ca", "-file", str(tls.cafile),
                "-keystore", str(self.truststore), "-storetype", "PKCS12",
                "-storepass", _STORE_PASSWORD,
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return (
            f'<sslContext><sslContext keyStore="file:{self.keystore}" '
            f'keyStorePassword="{_STORE_PASSWORD}" keyStoreType="PKCS12" '
            f'trustStore="file:{self.truststore}" trustStorePassword="{_STORE_PASSWORD}" '
            'trustStoreType="PKCS12"/></sslContext>'
        )

    def _write_config(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self._workdir / "data").mkdir(exist_ok=True)
        ssl_context = ""
        scheme, options = "stomp+nio", f"&amp;maximumConnections={MAX_CONNECTIONS}"
        if self._tls is not None:
            ssl_context = self._write_stores(self._tls)
            # Not stomp+nio+ssl: that one answers a missing client certificate with silence,
            # where the TLS tests examine Java's bad_certificate alert.
            scheme = "stomp+ssl"
            if self._tls.require_certificate:
                options += "&amp;needClientAuth=true"
        connectors = [
            # ActiveMQ's default grace is 1.0 x the heart-beat: punctual clients drop on jitter.
            f'<transportConnector name="stomp" uri="{scheme}://{HOST}:{self._port}'
            f'?transport.hbGracePeriodMultiplier=1.5{options}"/>'
        ]
        jars = [*self._advisory_jars, *([MQTT_CLIENT_JAR] if self._mqtt_port is not None else [])]
        for jar in jars:
            lib = self._workdir / "lib"
            lib.mkdir(exist_ok=True)
            link = lib / jar.name
            if not link.exists():
                link.symlink_to(jar)
        if self._mqtt_port is not None:
            connectors.append(
                f'<transportConnector name="mqtt" uri="mqtt://{HOST}:{self._mqtt_port}"/>'
            )
        connector_xml = "\n      ".join(connectors)
        accounts = "".join(
            f'<authenticationUser username="{user}" password="{password}" groups="users"/>'
            for user, password in self._users.items()
        )
        plugins = (
            '<plugins><simpleAuthenticationPlugin anonymousAccessAllowed="false">'
            f"<users>{accounts}</users></simpleAuthenticationPlugin></plugins>"
            if self._users
            else ""
        )
        (self.conf_dir / "activemq.xml").write_text(
            f"""<beans
  xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans \
http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="mwm-test"
          persistent="{str(self.persistent).lower()}" useJmx="false"
          dataDirectory="{self._workdir / "data"}">
    <persistenceAdapter>
      <kahaDB directory="{self._workdir / "data" / "kahadb"}"/>
    </persistenceAdapter>
    {plugins}
    {ssl_context}
    <destinationPolicy>
      <policyMap>
        <policyEntries>
          <!-- Flow control keeps a flood into a slow subscriber from exhausting the heap. -->
          <policyEntry topic="&gt;" producerFlowControl="true" memoryLimit="16 mb"/>
        </policyEntries>
      </policyMap>
    </destinationPolicy>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage limit="64 mb"/></memoryUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      {connector_xml}
    </transportConnectors>
  </broker>
</beans>
"""
        )
        (self.conf_dir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, file\n"
            "log4j.logger.org.apache.activemq.spring=WARN\n"
            "log4j.logger.org.springframework=WARN\n"
            "log4j.logger.org.apache.xbean=WARN\n"
            "log4j.appender.file=org.apache.log4j.FileAppender\n"
            f"log4j.appender.file.File={self.broker_log}\n"
            "log4j.appender.file.Append=true\n"
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.file.layout.ConversionPattern=%d{HH:mm:ss,SSS} %-5p [%t] %c - %m%n\n"
        )

    def _command(self) -> list[str]:
        base = self._workdir
        return [
            self.java(),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            *NIO_WORKERS,
            f"-Dactivemq.home={ACTIVEMQ_HOME}",
            f"-Dactivemq.base={base}",
            f"-Dactivemq.conf={self.conf_dir}",
            f"-Dactivemq.data={base / 'data'}",
            f"-Dactivemq.classpath={self.conf_dir}",
            f"-Djava.io.tmpdir={base}",
            "-jar",
            str(ACTIVEMQ_JAR),
            "start",
            f"xbean:file:{self.conf_dir / 'activemq.xml'}",
        ]

    def _handshake(self, timeout: float) -> None:
        user, password = next(iter(self._users.items()), (None, None))
        tls = None if self._tls is None else self._tls.probe_context()
        stomp_handshake(self._port, timeout=timeout, login=user, passcode=password, tls=tls)
        if self._mqtt_port is not None:
            mqtt_handshake(self._mqtt_port, timeout=timeout, username=user, password=password)


class RabbitMQ(Broker):
    """RabbitMQ serving STOMP (``url``) and MQTT (``mqtt_url``) on 127.0.0.1, no systemd.

    Its node name, ports (AMQP, STOMP, MQTT, distribution), epmd, data, logs and Erlang cookie
    are its own, so it never meets a system RabbitMQ. Every process it starts (the start script,
    the Erlang VM, its epmd) shares one process group, killed as a whole.
    """

    scheme = "stomp"
    name = "rabbitmq"
    startup_timeout = 90.0
    vhost = "/"

    def __init__(self, port: int | None = None, workdir: Path | str | None = None) -> None:
        """``port`` is the STOMP port; the others are picked free."""
        super().__init__(port, workdir)
        self.node_name = f"mwm-{os.getpid()}-{random.randrange(1 << 30):x}@localhost"
        self._mqtt_port = 0
        self._amqp_port = 0
        self._dist_port = 0
        self._epmd_port = 0
        self._epmd: subprocess.Popen[bytes] | None = None
        self._pick_other_ports()

    def _pick_other_ports(self) -> None:
        taken = {self._port}
        for attr in ("_mqtt_port", "_amqp_port", "_dist_port", "_epmd_port"):
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            setattr(self, attr, port)

    @property
    def mqtt_port(self) -> int:
        return self._mqtt_port

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{HOST}:{self._mqtt_port}"

    @property
    def epmd_port(self) -> int:
        return self._epmd_port

    @property
    def config_file(self) -> Path:
        return self._workdir / "rabbitmq.conf"

    @property
    def broker_log(self) -> Path:
        return self._workdir / "log" / "rabbit.log"

    def _check_installed(self) -> None:
        missing = [
            str(path)
            for path in (RABBITMQ_SERVER, Path("/usr/bin/epmd"), Path("/usr/bin/setpriv"))
            if not os.access(path, os.X_OK)
        ]
        if missing:
            raise BrokerNotInstalledError(f"{', '.join(missing)} not found: {INSTALL_HINT}")

    def _log_files(self) -> list[Path]:
        return [self.broker_log, self.console_log]

    def _reassign_ports(self) -> None:
        super()._reassign_ports()
        self._pick_other_ports()

    def _write_config(self) -> None:
        for sub in ("mnesia", "log", "bin"):
            (self._workdir / sub).mkdir(exist_ok=True)
        self.config_file.write_text(
            f"listeners.tcp.1 = {HOST}:{self._amqp_port}\n"
            f"stomp.listeners.tcp.1 = {HOST}:{self._port}\n"
            f"mqtt.listeners.tcp.1 = {HOST}:{self._mqtt_port}\n"
            # Only loopback listeners exist, so the guest account may stay loopback-only.
            "loopback_users.guest = true\n"
            "log.file = rabbit.log\n"
            "log.file.level = info\n"
            "log.console = false\n"
        )
        (self._workdir / "enabled_plugins").write_text("[rabbitmq_stomp,rabbitmq_mqtt].\n")
        (self._workdir / "rabbitmq-env.conf").write_text("")
        # The start script runs `erl` from PATH: this one dies with its parent, the script.
        erl = self._workdir / "bin" / "erl"
        erl.write_text('#!/bin/sh\nexec /usr/bin/setpriv --pdeathsig KILL /usr/bin/erl "$@"\n')
        erl.chmod(0o755)

    def _popen_environment(self) -> dict[str, str]:
        base = self._workdir
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_")) and key != "NOTIFY_SOCKET"
        }
        env.update(
            HOME=str(base),
            PATH=f"{base / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            ERL_EPMD_PORT=str(self._epmd_port),
            ERL_EPMD_ADDRESS=HOST,
            RABBITMQ_NODENAME=self.node_name,
            RABBITMQ_NODE_IP_ADDRESS=HOST,
            RABBITMQ_NODE_PORT=str(self._amqp_port),
            RABBITMQ_DIST_PORT=str(self._dist_port),
            RABBITMQ_CONF_ENV_FILE=str(base / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(self.config_file),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(base / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
            RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def _command(self) -> list[str]:
        return [str(RABBITMQ_SERVER)]

    def _process_group(self) -> int:
        """Start the node's own epmd, which leads the process group the node then joins."""
        epmd = subprocess.Popen(
            ["/usr/bin/epmd", "-address", HOST, "-port", str(self._epmd_port)],
            cwd=self._workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            # A group of its own, out of the terminal's foreground group, in our session.
            process_group=0,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        self._epmd = epmd
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, self._epmd_port), timeout=1).close()
                return epmd.pid
            except OSError as exc:
                if epmd.poll() is not None or time.monotonic() > deadline:
                    raise BrokerError(f"epmd did not start on port {self._epmd_port}") from exc
            time.sleep(0.01)

    def ctl(self, *arguments: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl ARGUMENTS`` against this node; return its output, raise if it fails."""
        done = subprocess.run(
            [str(RABBITMQ_HOME / "bin" / "rabbitmqctl"), "-n", self.node_name, *arguments],
            cwd=self._workdir,
            env=self._popen_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise BrokerError(f"rabbitmqctl {' '.join(arguments)}: {done.stderr or done.stdout}")
        return done.stdout

    def _handshake(self, timeout: float) -> None:
        stomp_handshake(self._port, timeout=timeout, vhost=self.vhost)
        mqtt_handshake(self._mqtt_port, timeout=timeout)

    def _signal_group(self, signum: signal.Signals) -> None:
        if self._epmd is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._epmd.pid, signum)

    def _end_group(self) -> None:
        self._signal_group(signal.SIGKILL)
        if self._epmd is not None:
            self._epmd.wait()
            self._epmd = None

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the node gracefully, then kill what is left of its process group (epmd)."""
        with self._lock:
            code = super().stop(timeout)
            self._end_group()
            return code

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as in a crash."""
        with self._lock:
            self._signal_group(signal.SIGKILL)
            super().kill()
            self._end_group()

    def freeze(self) -> None:
        with self._lock:
            if self.is_running():
                self._signal_group(signal.SIGSTOP)

    def thaw(self) -> None:
        with self._lock:
            if self.is_running():
                self._signal_group(signal.SIGCONT)


BrokerT = TypeVar("BrokerT", bound=Broker)


class BrokerStarter(Protocol):
    """Type of the ``own_brokers`` fixture: starts the broker it is given and returns it."""

    def __call__(self, broker: BrokerT, /) -> BrokerT: ...


class MosquittoFactory(Protocol):
    """Type of the ``fresh_mosquitto`` fixture: returns a started, ready broker."""

    def __call__(self, *, port: int | None = None, persistent: bool = False) -> Mosquitto: ...


class ActiveMQFactory(Protocol):
    """Type of the ``fresh_activemq`` fixture: returns a started, ready broker."""

    def __call__(
        self, *, port: int | None = None, mqtt: bool = False, persistent: bool = False
    ) -> ActiveMQ: ...


@atexit.register
def _stop_all_brokers() -> None:
    for broker in list(Broker._live):
        broker.kill()


@contextlib.contextmanager
def running(*brokers: Broker) -> Iterator[tuple[Broker, ...]]:
    """Start the brokers, yield them, and close them all however the block ends."""
    try:
        for broker in brokers:
            broker.start()
        yield brokers
    finally:
        for broker in reversed(brokers):
            broker.close()


def main(argv: list[str] | None = None) -> int:
    """Start Mosquitto and ActiveMQ, print their URLs, keep them up until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.brokers",
        description="Run a throwaway Mosquitto and ActiveMQ on 127.0.0.1 until interrupted.",
    )
    parser.add_argument("--mqtt-port", type=int, help="Mosquitto port (default: a free one)")
    parser.add_argument("--stomp-port", type=int, help="ActiveMQ STOMP port (default: a free one)")
    args = parser.parse_args(argv)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with it ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        mosquitto = Mosquitto(args.mqtt_port)
        activemq = ActiveMQ(args.stomp_port)
    except BrokerNotInstalledError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        with running(mosquitto, activemq):
            print(f"MWM_STOMP={activemq.url}")
            print(f"MWM_MQTT={mosquitto.url}", flush=True)
            print(
                f"# mosquitto ready in {mosquitto.ready_seconds:.3f} s, in {mosquitto.workdir}\n"
                f"# activemq ready in {activemq.ready_seconds:.3f} s, in {activemq.workdir}\n"
                "# Ctrl-C to stop",
                file=sys.stderr,
                flush=True,
            )
            while mosquitto.is_running() and activemq.is_running():
                time.sleep(0.5)
            print("error: a broker exited on its own", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
