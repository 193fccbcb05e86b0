"""STOMP connections as HQ and the simulated trucks open them: one try, HQ's frame reader,
stomp.py's log kept off the screen and free of passcodes."""

from __future__ import annotations

import contextlib
import logging
import re
import socket

import stomp

from mwm_tui.domain.targets import BrokerTarget

from .stomp_transport import FramedConnection, RejectHandler, TlsFramedTransport, ignore_reject
from .supervisor import describe_connect_error
from .tls import client_context

# The passcode header as stomp.py's debug log shows a sent frame (a repr of its byte lines).
_PASSCODE = re.compile(r"passcode:(?:\\[^n]|[^\\\n])*")


class _HidePasscode(logging.Filter):
    """stomp.py logs CONNECT frames at debug level with the passcode in clear: blank it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "passcode" in message:
            record.msg, record.args = _PASSCODE.sub("passcode:***", message), ()
        return True


# stomp.py warns of every refused connect; with no handler Python would print that over the UI.
logging.getLogger("stomp.py").addHandler(logging.NullHandler())
logging.getLogger("stomp.py").addFilter(_HidePasscode())

# stomp.py's own watchdog (1.5 intervals by default) would drop idle links falsely; ours acts
# first, on the supervisor thread, and stomp.py's stays only as a backstop.
_STOMP_PY_RECEIVE_SCALE = 3.0
# ActiveMQ keeps one client-id namespace for STOMP and MQTT; no device id holds a ".", so the
# suffixed id never equals another client's MQTT id.
STOMP_CLIENT_ID_SUFFIX = ".stomp"


def stomp_client_id(client_id: str) -> str:
    """The client id a STOMP connection sends for ``client_id`` (its MQTT id is unchanged)."""
    return client_id + STOMP_CLIENT_ID_SUFFIX


def new_stomp_connection(
    target: BrokerTarget,
    heartbeats: tuple[int, int],
    connect_timeout: float,
    on_reject: RejectHandler = ignore_reject,
) -> stomp.Connection12:
    """A STOMP 1.2 connection that tries once and leaves reconnecting to its owner.

    Incoming bytes go through HQ's frame reader; a frame it refuses goes to ``on_reject``.
    Bodies stay bytes so a body that is not UTF-8 reaches our codec. Raises TlsSetupError when
    the TLS files cannot be loaded.
    """
    host_and_port = (target.host, target.port)
    return FramedConnection(
        [host_and_port],
        on_reject=on_reject,
        tls_context=client_context(target.tls_options) if target.tls else None,
        timeout=connect_timeout,
        heartbeats=heartbeats,
        heart_beat_receive_scale=_STOMP_PY_RECEIVE_SCALE,
        vhost=target.vhost,
    )


def close_stomp_connection(connection: stomp.Connection12, join_timeout: float = 2.0) -> None:
    """Close the socket without a DISCONNECT frame and wait for stomp.py's threads to end."""
    transport = connection.transport
    with contextlib.suppress(Exception):
        transport.disconnect_socket()
    for thread in (transport.io_thread, getattr(connection, "heartbeat_thread", None)):
        if thread is not None and thread.is_alive():
            thread.join(join_timeout)


def connect_failure_reason(
    target: BrokerTarget, where: str, timeout: float, connection: stomp.Connection12 | None = None
) -> str:
    """Why stomp.py could not open its socket (it logs the error but raises without it)."""
    transport = connection.transport if connection is not None else None
    if isinstance(transport, TlsFramedTransport) and transport.handshake_error is not None:
        certificate = target.tls_options.certfile is not None
        return describe_connect_error(
            transport.handshake_error, where, client_certificate=certificate
        )
    try:
        with socket.create_connection((target.host, target.port), timeout):
            pass
    except OSError as error:
        return describe_connect_error(error, where)
    if target.tls:
        return f"TLS handshake with {where} failed"
    return f"cannot connect to {where}"
