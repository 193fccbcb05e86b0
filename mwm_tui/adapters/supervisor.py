"""What the STOMP and MQTT links share: a supervisor thread that connects, reports link states,
reconnects with backoff, and tracks each order or alert until its outcome is known.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from mwm_tui.domain.events import (
    Delivery,
    Event,
    Failure,
    LinkName,
    LinkState,
    LinkStateChanged,
)
from mwm_tui.domain.targets import BrokerTarget

from .backoff import Backoff, reconnect_backoff, refused_backoff
from .base import EventSink, batch_sink
from .protocol_probe import other_protocol, wrong_protocol_reason
from .tls import describe_tls_error

log = logging.getLogger(__name__)
# Link threads log only where the application sends logs, never to a bare stderr.
logging.getLogger("mwm_tui.adapters").addHandler(logging.NullHandler())

Request = TypeVar("Request")
# How long a send waits for its receipt or PUBACK: longer than either link takes to give up a
# frozen broker, so a freeze ends the session (and the outbox resends on a new one) first.
CONFIRM_TIMEOUT = 20.0
# Longest the supervisor sleeps without looking at deadlines and the stop flag.
_MAX_IDLE = 1.0
# After a read that emptied its socket a link reads again this much later, not at the next
# byte: 1,000 trucks at 1 Hz then cost 10 wake-ups a second per link, not 1,000, and a fix
# still reaches the map within a second (ui/app.py). A flood is not paused (ReadPacer).
READ_PAUSE = 0.1


class LinkDownError(Exception):
    """A session ended; ``reason`` says why in words an operator understands.

    ``refused``: the broker answered no (retried gently). ``clash``: another client holds our
    client id (not retried until ``reconnect_now``, so two clients do not take turns forever).
    """

    def __init__(self, reason: str, *, refused: bool = False, clash: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused
        self.clash = clash


def host_port(target: BrokerTarget) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{host}:{target.port}"


def describe_connect_error(
    error: BaseException, where: str, *, client_certificate: bool = False
) -> str:
    """Why a TCP or TLS connection to ``where`` (host:port) failed.

    ``client_certificate``: whether HQ presents one (it changes what a TLS alert means).
    """
    if isinstance(error, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host of {where}: {error.strerror}"
    if isinstance(error, TimeoutError):
        return f"no answer from {where} (timed out)"
    if isinstance(error, ssl.SSLError):
        return describe_tls_error(error, where, client_certificate=client_certificate)
    if isinstance(error, ConnectionResetError):
        return f"{where} reset the connection"
    if isinstance(error, OSError) and error.strerror:
        return f"cannot connect to {where}: {error.strerror}"
    return f"cannot connect to {where}: {error}"


class Waker:
    """Wakes a thread sleeping in ``wait`` (or in a select on ``fileno``) from any other thread."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._closed = False

    def fileno(self) -> int:
        return self._reader.fileno()

    def wake(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(OSError):
            self._writer.send(b"\x00")

    def drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._reader.recv(4096):
                pass

    def wait(self, timeout: float) -> None:
        """Sleep until woken or ``timeout`` seconds pass."""
        if self._closed:
            time.sleep(max(timeout, 0.0))
            return
        readable, _, _ = select.select([self._reader], [], [], max(timeout, 0.0))
        if readable:
            self.drain()

    def close(self) -> None:
        self._closed = True
        self._reader.close()
        self._writer.close()


# Builds an outcome event from (delivery, detail, failure).
MakeOutcome = Callable[[Delivery, str, Failure | None], Event]


@dataclass(slots=True)
class _Pending:
    make: MakeOutcome
    deadline: float
    timeout_detail: str


class OutcomeTracker:
    """Orders or alerts awaiting the broker's confirmation; each one's outcome is emitted once."""

    def __init__(self, emit: Callable[[Event], None]) -> None:
        self._emit = emit
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}

    def add(
        self,
        key: str,
        make: MakeOutcome,
        deadline: float,
        timeout_detail: str,
    ) -> None:
        with self._lock:
            if key in self._pending:
                raise ValueError(f"{key!r} is already pending")
            self._pending[key] = _Pending(make, deadline, timeout_detail)

    def settle(
        self, key: str, delivery: Delivery, detail: str = "", failure: Failure | None = None
    ) -> bool:
        """Emit the outcome of ``key``; False when it is unknown or was already settled."""
        with self._lock:
            pending = self._pending.pop(key, None)
        if pending is None:
            return False
        self._emit(pending.make(delivery, detail, failure))
        return True

    def expire(self, now: float) -> float | None:
        """Fail everything past its deadline; return the earliest deadline still pending."""
        if not self._pending:
            return None
        with self._lock:
            late = [key for key, pending in self._pending.items() if pending.deadline <= now]
            expired = [self._pending.pop(key) for key in late]
            upcoming = min((p.deadline for p in self._pending.values()), default=None)
        for pending in expired:
            self._emit(pending.make(Delivery.FAILED, pending.timeout_detail, Failure.UNCONFIRMED))
        return upcoming

    def fail_all(self, detail: str, failure: Failure = Failure.UNCONFIRMED) -> None:
        with self._lock:
            failed = list(self._pending.values())
            self._pending.clear()
        for pending in failed:
            self._emit(pending.make(Delivery.FAILED, detail, failure))

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._pending

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)


class SupervisedLink(Generic[Request]):
    """A broker link driven by one supervisor thread: connect, run a session, back off, repeat.

    Subclasses write ``_run_session`` (``_mark_up`` once subscribed; return on stop, raise
    LinkDownError when the session ends); other threads hand work over through ``_submit``.
    """

    name: LinkName

    def __init__(
        self,
        targets: BrokerTarget | Sequence[BrokerTarget],
        sink: EventSink,
        *,
        backoff: Backoff | None,
        connect_timeout: float,
        confirm_timeout: float,
        refusal_backoff: Backoff | None = None,
    ) -> None:
        self._targets = (targets,) if isinstance(targets, BrokerTarget) else tuple(targets)
        if not self._targets:
            raise ValueError("a link needs at least one broker")
        # Index of the broker the link is on or trying; only the supervisor moves it.
        self._current = 0
        self._sink = sink
        self._sink_many = batch_sink(sink)
        # Events of the read burst under way, handed over together when it ends; only the
        # thread that opened it adds to it (``_burst_thread``).
        self._burst: list[Event] | None = None
        self._burst_thread = 0
        self._backoff = backoff or reconnect_backoff()
        self._refusal_backoff = refusal_backoff or refused_backoff()
        self._connect_timeout = connect_timeout
        self._confirm_timeout = confirm_timeout
        self._lock = threading.Lock()
        self._state: LinkState | None = None
        self._state_detail = ""
        self._accepting = False
        # (outcome key, request) not yet written to the socket, oldest first.
        self._outbox: deque[tuple[str, Request]] = deque()
        self._stopping = threading.Event()
        self._reconnect = threading.Event()
        self._waker = Waker()
        self._thread: threading.Thread | None = None
        self.outcomes = OutcomeTracker(self._emit)
        # Seconds between reads once a read emptied the socket (0: read at every byte).
        self.read_pause = READ_PAUSE

    @property
    def _target(self) -> BrokerTarget:
        return self._targets[self._current]

    @property
    def _certificate(self) -> bool:
        """Whether HQ presents a client certificate to the current broker."""
        return self._target.tls_options.certfile is not None

    @property
    def _where(self) -> str:
        return host_port(self._target)

    @property
    def targets(self) -> tuple[BrokerTarget, ...]:
        return self._targets

    @property
    def label(self) -> str:
        """The broker the link is on or trying."""
        return self._target.display()

    @property
    def state(self) -> LinkState | None:
        """The last state reported, None before ``start``."""
        return self._state

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopping.is_set():
                return
            self._thread = threading.Thread(
                target=self._supervise, name=f"mwm-{self.name.lower()}-link", daemon=True
            )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping.set()
            thread = self._thread
        if thread is None:
            self._waker.close()
            return
        self._waker.wake()
        if thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s link thread still running %.0f s after stop", self.name, timeout)

    def reconnect_now(self) -> None:
        """Cut a wait or a connection attempt short and connect at once; an up link stays."""
        if self._state is LinkState.UP:
            return
        self._reconnect.set()
        self._waker.wake()

    # For subclasses

    def _run_session(self) -> None:
        raise NotImplementedError

    def _emit(self, event: Event) -> None:
        burst = self._burst
        if burst is not None and self._burst_thread == threading.get_ident():
            burst.append(event)
            return
        try:
            self._sink(event)
        except Exception:
            log.exception("event sink raised on %r", event)

    def _open_burst(self) -> None:
        """Collect what this thread emits until ``_close_burst``, in order."""
        self._burst_thread = threading.get_ident()
        self._burst = []

    def _close_burst(self) -> None:
        """Hand the burst's events to the sink in one call."""
        events, self._burst = self._burst, None
        if not events:
            return
        try:
            self._sink_many(events)
        except Exception:
            log.exception("event sink raised on a batch of %d events", len(events))

    def _mark_up(self) -> None:
        with self._lock:
            self._accepting = True
        self._backoff.reset()
        self._refusal_backoff.reset()
        self._set_state(LinkState.UP, f"connected to {self.label}")

    def _submit(
        self,
        key: str,
        request: Request,
        make: MakeOutcome,
        timeout_detail: str,
    ) -> None:
        """Queue ``request`` for the supervisor, or emit its failure at once if the link is down."""
        deadline = time.monotonic() + self._confirm_timeout
        with self._lock:
            accepted = self._accepting
            if accepted:
                self.outcomes.add(key, make, deadline, timeout_detail)
                self._outbox.append((key, request))
            state, detail = self._state, self._state_detail
        if accepted:
            self._waker.wake()
            return
        why = f"{self.name} link is {state or 'not started'}"
        reason = f"{why}: {detail}" if detail else why
        self._emit(make(Delivery.FAILED, reason, Failure.NOT_SENT))

    def _take_outbox(self) -> list[Request]:
        if not self._outbox:
            return []
        with self._lock:
            requests = [request for _, request in self._outbox]
            self._outbox.clear()
        return requests

    def _no_answer(self, what: str) -> str:
        return f"no {what} from {self._where} within {self._connect_timeout:g} s"

    def _stopping_now(self) -> bool:
        return self._stopping.is_set()

    def _next_wait(self) -> float:
        """Fail overdue confirmations; return how long the supervisor may sleep."""
        now = time.monotonic()
        upcoming = self.outcomes.expire(now)
        if upcoming is None:
            return _MAX_IDLE
        return min(_MAX_IDLE, max(upcoming - now, 0.0))

    def _wait_for(
        self,
        done: Callable[[], bool],
        timeout: float,
        *,
        interruptible: bool = True,
        sleep: Callable[[float], None] | None = None,
    ) -> bool:
        """Sleep until ``done()`` holds (True), or the timeout or a stop comes first (False).

        ``sleep(seconds)`` waits for news; by default the waker, for MQTT a network loop turn.
        """
        nap = sleep if sleep is not None else self._waker.wait
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (interruptible and self._stopping.is_set()):
                return False
            if interruptible and self._reconnect.is_set():
                raise LinkDownError("reconnecting at once, as asked")
            nap(min(remaining, _MAX_IDLE))
        return True

    # The supervisor thread

    def _set_state(self, state: LinkState, detail: str, retry_in: float | None = None) -> None:
        with self._lock:
            self._state = state
            self._state_detail = detail
        log.info("%s link %s: %s", self.name, state, detail)
        self._emit(LinkStateChanged(self.name, state, detail, retry_in, self.label))

    def _stop_accepting(self, detail: str) -> None:
        with self._lock:
            self._accepting = False
            unsent = [key for key, _ in self._outbox]
            self._outbox.clear()
        for key in unsent:
            self.outcomes.settle(key, Delivery.FAILED, detail, Failure.NOT_SENT)
        self.outcomes.fail_all(detail)

    def _pause(self, delay: float | None) -> None:
        """Sleep ``delay`` seconds (None: until asked), or less on stop or ``reconnect_now``."""
        deadline = None if delay is None else time.monotonic() + delay
        while not (self._stopping.is_set() or self._reconnect.is_set()):
            remaining = _MAX_IDLE if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return
            self._waker.wait(min(remaining, _MAX_IDLE))

    def _supervise(self) -> None:
        try:
            while not self._stopping.is_set():
                self._reconnect.clear()
                self._set_state(LinkState.CONNECTING, f"connecting to {self.label}")
                down = LinkDownError("link stopped")
                try:
                    self._run_session()
                except LinkDownError as error:
                    down = self._name_the_protocol(error)
                except Exception as error:
                    # A bug in one session must not end reconnection for good.
                    log.exception("%s session failed", self.name)
                    down = LinkDownError(f"internal error: {error!r}")
                self._stop_accepting(f"no confirmation from the broker before: {down.reason}")
                if self._stopping.is_set():
                    break
                self._after_failure(down)
        finally:
            self._stop_accepting("link stopped before the broker confirmed")
            if self._stopping.is_set():
                try:
                    self._wind_up()
                except Exception:
                    log.exception("%s failed to wind up", self.name)
            self._set_state(LinkState.DOWN, "stopped")
            self._waker.close()

    def _name_the_protocol(self, down: LinkDownError) -> LinkDownError:
        """A handshake that failed before the link was up, on a port that answers the other
        protocol, says so: the URL names the other broker's port (retried as a refusal)."""
        if self._state is LinkState.UP or down.refused or down.clash or self._stopping.is_set():
            return down
        target = self._targets[self._current]
        found = other_protocol(target)
        if found is None:
            return down
        return LinkDownError(wrong_protocol_reason(target, found), refused=True)

    def _wind_up(self) -> None:
        """Last words to the brokers after a stop, once the final session has ended."""

    def _after_failure(self, down: LinkDownError) -> None:
        """Report why the session ended, wait as its kind asks, then move to the next broker."""
        if down.clash:
            self._set_state(LinkState.DOWN, f"{down.reason}; not reconnecting until asked (r)")
            self._pause(None)
        else:
            backoff = self._refusal_backoff if down.refused else self._backoff
            delay = 0.0 if self._reconnect.is_set() else backoff.next_delay()
            self._set_state(LinkState.DOWN, down.reason, retry_in=delay)
            self._pause(delay)
        self._current = (self._current + 1) % len(self._targets)
