"""A throwaway certificate authority for TLS tests, made with the ``openssl`` command line."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

_REQ_CONFIG = """\
[ req ]
distinguished_name = name
prompt = no
[ name ]
CN = {cn}
[ ca_extensions ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""
_CA_CONFIG = """\
[ ca ]
default_ca = test_ca
[ test_ca ]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any_name
unique_subject = no
[ any_name ]
commonName = supplied
"""


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _asn1_time(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%SZ")


class TestCA:
    """A CA in ``directory`` issuing server and client certificates, valid or expired."""

    __test__ = False

    def __init__(self, directory: Path, name: str = "mwm-tui test CA") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.cert = directory / "ca.pem"
        self.key = directory / "ca.key"
        (directory / "index.txt").write_text("")
        (directory / "serial").write_text("1000\n")
        (directory / "ca.cnf").write_text(_CA_CONFIG.format(dir=directory))
        request_config = directory / "ca-req.cnf"
        request_config.write_text(_REQ_CONFIG.format(cn=name))
        _openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(self.key), "-out", str(self.cert), "-days", "3",
            "-config", str(request_config), "-extensions", "ca_extensions",
        )  # fmt: skip

    def issue(
        self,
        name: str,
        *,
        dns: tuple[str, ...] = (),
        ips: tuple[str, ...] = (),
        client: bool = False,
        expired: bool = False,
    ) -> KeyPair:
        """A certificate for ``name`` (also its subjectAltName), signed by this CA."""
        stem = str(self.directory / name.replace("/", "_"))
        pair = KeyPair(Path(stem + ".pem"), Path(stem + ".key"))
        request_config = Path(stem + ".req.cnf")
        request_config.write_text(_REQ_CONFIG.format(cn=name))
        request = Path(stem + ".csr")
        _openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(pair.key), "-out", str(request),
            "-config", str(request_config),
        )  # fmt: skip
        names = [f"DNS:{entry}" for entry in dns] + [f"IP:{entry}" for entry in ips]
        extensions = Path(stem + ".ext")
        extensions.write_text(
            "basicConstraints = CA:FALSE\n"
            f"extendedKeyUsage = {'clientAuth' if client else 'serverAuth'}\n"
            + (f"subjectAltName = {', '.join(names)}\n" if names else "")
        )
        now = datetime.now(UTC)
        start, end = (
            (now - timedelta(days=3), now - timedelta(days=2))
            if expired
            else (now - timedelta(hours=1), now + timedelta(days=2))
        )
        _openssl(
            "ca", "-batch", "-notext", "-config", str(self.directory / "ca.cnf"),
            "-cert", str(self.cert), "-keyfile", str(self.key), "-in", str(request),
            "-out", str(pair.cert), "-extfile", str(extensions),
            "-startdate", _asn1_time(start), "-enddate", _asn1_time(end),
        )  # fmt: skip
        return pair
