"""paho clients for the MQTT link: socket reads in batches, made as the link needs them.

``BufferedClient`` reads its socket 64 KiB at a time and hands whole QoS 0 PUBLISH packets on
without paho, through the hooks ``compat.paho`` gives; where paho's parts are not as expected it
is paho's own client.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import ssl
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from mwm_tui.compat.paho import HookedClient
from mwm_tui.domain.targets import BrokerTarget

from .mqtt_packets import PublishHandler, take_whole_publishes
from .socket_reads import READ_BYTES, LandingBuffer
from .tls import client_context


def default_client_id() -> str:
    """``mwm-tui-<host>-<random>``: unique per link, and not guessable by another client."""
    return f"mwm-tui-{socket.gethostname()}-{secrets.token_hex(6)}"


class BufferedClient(HookedClient):
    """A paho client whose socket reads come from one 64 KiB ``recv_into`` at a time.

    paho reads each packet with three or more small ``recv`` calls; under a flood every one of
    them is a system call and a GIL hand-over to the UI thread. Without paho's hooks
    (``hooked`` False) ``take_publishes`` takes nothing and ``bytes_read`` stays 0.
    """

    READ_SIZE = READ_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._landing = LandingBuffer(self.READ_SIZE)
        self._read_buffer = b""
        self._read_offset = 0
        # Whether the last socket read filled READ_SIZE: then more is likely waiting.
        self.last_read_full = False
        # Bytes read from the socket so far.
        self.bytes_read = 0
        # The TLS alert that ended the connection, if one did: paho reports only "lost".
        self.tls_alert: ssl.SSLError | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes read from the socket that paho has not consumed yet (select cannot see them)."""
        return len(self._read_buffer) - self._read_offset

    def socket_read(self, bufsize: int) -> bytes:
        if self._read_offset >= len(self._read_buffer):
            try:
                data = self._read_socket()
            except ssl.SSLError as error:
                self._note_alert(error)
                raise
            self.last_read_full = len(data) >= self.READ_SIZE
            self.bytes_read += len(data)
            if not data:
                return data
            self._read_buffer, self._read_offset = data, 0
        start = self._read_offset
        self._read_offset = min(start + bufsize, len(self._read_buffer))
        return self._read_buffer[start : self._read_offset]

    def _read_socket(self) -> bytes:
        """paho's socket read into the landing buffer; paho's own for a websocket."""
        recv_into = self.socket_recv_into()
        if recv_into is None:
            return self.paho_read(self.READ_SIZE)
        try:
            return self._landing.read(recv_into)
        except ssl.SSLWantReadError as error:
            raise BlockingIOError() from error
        except ssl.SSLWantWriteError as error:
            self.want_write_later()
            raise BlockingIOError() from error

    def take_publishes(self, handle: PublishHandler) -> int:
        """Hand each QoS 0 PUBLISH that lies whole in the buffer to ``handle``, in order, up to
        the first packet of another kind, cut short or malformed (those stay paho's); how many.
        """
        if not self.hooked or self.inside_packet():
            return 0  # paho is in the middle of a packet
        count, self._read_offset = take_whole_publishes(
            self._read_buffer, self._read_offset, handle
        )
        if count:
            self.heard_now()  # paho's keepalive pings only after silence
        return count

    def socket_write(self, buf: bytes | bytearray) -> int:
        try:
            return self.paho_write(buf)
        except ssl.SSLError as error:
            # A broker that refused HQ's certificate sent its alert before closing: read it.
            try:
                self.paho_read(1)
            except ssl.SSLError as alert:
                self._note_alert(alert)
            except OSError:
                pass
            self._note_alert(error)
            raise

    def _note_alert(self, error: ssl.SSLError) -> None:
        if self.tls_alert is None and "ALERT" in str(getattr(error, "reason", "")):
            self.tls_alert = error


def new_mqtt_client(
    target: BrokerTarget,
    client_id: str,
    *,
    clean_session: bool,
    connect_timeout: float = 10.0,
) -> BufferedClient:
    """A paho client for MQTT 3.1.1 with VERSION2 callbacks that never reconnects by itself."""
    client = BufferedClient(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=MQTTProtocolVersion.MQTTv311,
        reconnect_on_failure=False,
    )
    client.connect_timeout = connect_timeout
    if target.username is not None:
        client.username_pw_set(target.username, target.password)
    if target.tls:
        client.tls_set_context(client_context(target.tls_options))
    return client


def end_session(target: BrokerTarget, client_id: str, timeout: float) -> bool:
    """Connect with a clean session as ``client_id`` and disconnect: the broker drops the
    session it kept for that id. False when the broker did not accept within ``timeout``."""
    deadline = time.monotonic() + timeout
    client = new_mqtt_client(target, client_id, clean_session=True, connect_timeout=timeout)
    accepted: list[bool] = []

    def on_connect(
        _c: mqtt.Client, _u: Any, _f: mqtt.ConnectFlags, code: ReasonCode, _p: Any
    ) -> None:
        accepted.append(not code.is_failure)

    client.on_connect = on_connect
    try:
        client.connect(target.host, target.port, keepalive=max(int(timeout) + 1, 5))
        while not accepted and (remaining := deadline - time.monotonic()) > 0:
            if client.loop(timeout=min(remaining, 0.1)) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
        if accepted and accepted[0]:
            client.disconnect()
            client.loop_write()
            return True
        return False
    except (OSError, ValueError):
        return False
    finally:
        sock = client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
