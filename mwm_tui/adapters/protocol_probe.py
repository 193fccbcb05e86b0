"""Which protocol a port speaks, asked when a link's handshake got no answer it understood.

Mosquitto drops a STOMP frame without a word, and ActiveMQ's STOMP port waits on an MQTT
CONNECT in silence: neither says which protocol it expected. Greeting the port in the other
protocol tells: an MQTT broker answers CONNACK, a STOMP broker CONNECTED or ERROR.
"""

from __future__ import annotations

import os
import socket
import time

from mwm_tui.domain.targets import BrokerTarget, Protocol

# How long the port may take to answer the other protocol's greeting.
PROBE_TIMEOUT = 1.0
_STOMP_CONNECT = b"CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\n\n\x00"
_STOMP_DISCONNECT = b"DISCONNECT\n\n\x00"
_MQTT_DISCONNECT = b"\xe0\x00"


def _mqtt_connect() -> bytes:
    """An MQTT 3.1.1 CONNECT with a clean session and a client id of its own."""
    client_id = f"mwm-probe-{os.urandom(4).hex()}".encode("ascii")
    variable = b"\x00\x04MQTT\x04\x02\x00\x0a"  # level 4, clean session, keepalive 10 s
    payload = len(client_id).to_bytes(2, "big") + client_id
    return bytes([0x10, len(variable) + len(payload)]) + variable + payload


def _first_bytes(sock: socket.socket, wanted: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    answer = b""
    while len(answer) < wanted:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        chunk = sock.recv(wanted - len(answer))
        if not chunk:
            break
        answer += chunk
    return answer


def other_protocol(target: BrokerTarget, timeout: float = PROBE_TIMEOUT) -> Protocol | None:
    """The protocol other than ``target.protocol``, when its port answers that one's greeting
    as a broker of it would; None when it does not, or cannot be asked (TLS, no connection)."""
    if target.tls:
        return None
    other = Protocol.MQTT if target.protocol is Protocol.STOMP else Protocol.STOMP
    try:
        with socket.create_connection((target.host, target.port), timeout) as sock:
            if other is Protocol.MQTT:
                sock.sendall(_mqtt_connect())
                if _first_bytes(sock, 2, timeout) == b"\x20\x02":  # CONNACK
                    sock.sendall(_MQTT_DISCONNECT)
                    return other
                return None
            sock.sendall(_STOMP_CONNECT)
            answer = _first_bytes(sock, 10, timeout)
            if answer.startswith((b"CONNECTED\n", b"ERROR\n", b"CONNECTED\r", b"ERROR\r")):
                sock.sendall(_STOMP_DISCONNECT)
                return other
    except OSError:
        pass
    return None


def wrong_protocol_reason(target: BrokerTarget, found: Protocol) -> str:
    """``port 1883 speaks MQTT, not STOMP (check the --stomp URL)``."""
    wanted = target.protocol
    return (
        f"port {target.port} speaks {found.name}, not {wanted.name} "
        f"(check the --{wanted.value} URL)"
    )
