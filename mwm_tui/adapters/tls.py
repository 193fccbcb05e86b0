"""The TLS context both links use, and what a failed handshake means to the operator."""

from __future__ import annotations

import os
import socket
import ssl
from typing import Any

from mwm_tui.domain.targets import TlsOptions

# OpenSSL verify codes (X509_V_ERR_*) and the cause an operator can act on.
_VERIFY_CAUSES = {
    2: "unknown CA",
    10: "certificate expired",
    9: "certificate not yet valid",
    18: "unknown CA (self-signed certificate)",
    19: "unknown CA (self-signed certificate in the chain)",
    20: "unknown CA",
    21: "unknown CA",
    23: "certificate revoked",
    62: "name mismatch",
    64: "name mismatch (IP address)",
}
# Words in OpenSSL's reasons that mean the two ends share no protocol version or cipher.
_PROTOCOL_WORDS = ("PROTOCOL", "VERSION", "NO_CIPHERS", "NO_SHARED_CIPHER", "HANDSHAKE_FAILURE")


class TlsSetupError(ValueError):
    """A CA file, certificate or key that cannot be loaded, with a message for the operator."""


class _NamedContext(ssl.SSLContext):
    """A client context that checks the broker's certificate for ``server_name`` if set."""

    server_name: str | None = None

    def wrap_socket(  # type: ignore[override]
        self, sock: socket.socket, server_hostname: str | None = None, **kwargs: Any
    ) -> ssl.SSLSocket:
        name = self.server_name or server_hostname
        return super().wrap_socket(sock, server_hostname=name, **kwargs)


def client_context(options: TlsOptions) -> ssl.SSLContext:
    """The context for a TLS broker: system CAs or ``cafile``, optional client certificate."""
    files = {"cafile": options.cafile, "cert": options.certfile, "key": options.keyfile}
    for option, path in files.items():
        if path is not None and not os.path.isfile(path):
            raise TlsSetupError(f"{option} {path}: no such file")
    context = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.server_name = options.server_name
    try:
        if options.cafile:
            context.load_verify_locations(cafile=options.cafile)
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if options.certfile:
            context.load_cert_chain(options.certfile, options.keyfile)
    except (OSError, ssl.SSLError) as error:
        raise TlsSetupError(f"cannot load the TLS files: {_reason(error)}") from None
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe_tls_error(error: ssl.SSLError, where: str, *, client_certificate: bool) -> str:
    """Why the TLS handshake with ``where`` failed: unknown CA, name mismatch, expired, protocol.

    ``client_certificate``: whether HQ presented one (a broker's alert does not say).
    """
    if isinstance(error, ssl.SSLCertVerificationError):
        cause = _VERIFY_CAUSES.get(error.verify_code, "certificate rejected")
        return f"TLS certificate of {where} rejected: {cause} ({error.verify_message})"
    reason = _reason(error)
    refused = "ALERT" in reason and ("CERTIFICATE" in reason or "UNKNOWN_CA" in reason)
    if ("CERTIFICATE_REQUIRED" in reason or refused) and not client_certificate:
        # Java brokers answer a missing certificate with bad_certificate, OpenSSL with
        # certificate_required: without a certificate from HQ both mean one is required.
        return (
            f"TLS: {where} requires a client certificate and HQ gave none "
            f"(give one with --cert FILE --key FILE)"
        )
    if "CERTIFICATE_REQUIRED" in reason or refused:
        return f"TLS: {where} refused HQ's client certificate ({reason})"
    if any(word in reason for word in _PROTOCOL_WORDS):
        return f"TLS protocol mismatch with {where} ({reason})"
    return f"TLS handshake with {where} failed: {reason}"


def _reason(error: OSError) -> str:
    reason = getattr(error, "reason", None)
    return str(reason) if reason else (error.strerror or str(error))
