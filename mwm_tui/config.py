"""Settings from defaults, a TOML file at the XDG config path, MWM_* variables and the command line.

Later sources win. Passwords come only from the environment or the file, never the command line.
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mwm_tui.domain.bounded_json import deep_line
from mwm_tui.domain.fleet import DEFAULT_MAX_DEVICES
from mwm_tui.domain.overlay import DEFAULT_MAX_POINTS
from mwm_tui.domain.targets import (
    DEFAULT_VHOST,
    BrokerTarget,
    Protocol,
    TlsOptions,
    parse_targets,
)

DEFAULT_STOMP_URL = "stomp://localhost:61613"
DEFAULT_MQTT_URL = "mqtt://localhost:1883"
# A config file is a few lines: its size, and its nesting (a list of URLs is 1 deep).
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_DEPTH = 8
# Seconds any time setting may be, and days of history: a year, ten years.
MAX_SECONDS = 366 * 86_400.0
MAX_HISTORY_DAYS = 3660.0


class ConfigError(ValueError):
    """A setting that cannot be used, with a message for the operator."""


@dataclass(frozen=True)
class Settings:
    stomp: str = DEFAULT_STOMP_URL
    mqtt: str = DEFAULT_MQTT_URL
    stomp_password: str | None = field(default=None, repr=False)
    mqtt_password: str | None = field(default=None, repr=False)
    # STOMP's host header, which RabbitMQ takes as the virtual host
    stomp_vhost: str = DEFAULT_VHOST
    demo: bool = False
    devices: int = 20
    seed: int = 2014
    stale_after: float = 15.0
    offline_after: float = 120.0
    client_id: str | None = None
    log_file: str | None = None
    # The outbox and the history
    order_expiry: float = 900.0
    history_days: float = 30.0
    data_dir: str | None = None
    # Devices HQ keeps at most: past it a new id is rejected, a known one never evicted.
    max_devices: int = DEFAULT_MAX_DEVICES
    # TLS for stomp+ssl:// and mqtts:// brokers, as mosquitto_sub's flags
    cafile: str | None = None
    cert: str | None = None
    key: str | None = None
    tls_server_name: str | None = None
    insecure: bool = False
    # Draw with ASCII only (also chosen when the locale's character set is not UTF-8)
    ascii: bool = False
    # Where the palette's Screenshot writes (the current directory when unset)
    screenshot_dir: str | None = None
    # The operator's GeoJSON files drawn on the map (comma-separated; a TOML list in the file)
    overlay: str | None = None
    # Positions all overlay files may hold together (each costs drawing and geofence checks)
    overlay_max_points: int = DEFAULT_MAX_POINTS
    # ``mwm-tui serve``: where the browser dashboard listens; any but loopback needs serve_public
    serve_host: str = "127.0.0.1"
    serve_port: int = 8000
    serve_public: bool = False
    # The address browsers use when a reverse proxy stands in front (https://hq.example/mwm)
    serve_url: str | None = None
    # Names and password hashes of the people who may log in (``mwm-tui users add``)
    serve_users: str | None = None
    # Browser seats at most: the tab past it is told so and runs no dashboard
    serve_max_seats: int = 8
    # Record every message received and every order and alert sent to this file (JSON lines)
    record: str | None = None
    # Size of the record file past which it rotates, gzip-compressed, to FILE.1.gz ...
    record_max_mb: float = 100.0
    # Rotated record files kept: 48 x 100 MiB is 30 hours of a 200-truck fleet, ~1 GB on disk
    record_keep: int = 48
    # Add to an existing record file (else one that exists is refused: HQ writes its own files)
    record_append: bool = False

    def overlay_files(self) -> list[str]:
        return [name.strip() for name in (self.overlay or "").split(",") if name.strip()]

    def tls_options(self) -> TlsOptions:
        return TlsOptions(self.cafile, self.cert, self.key, self.tls_server_name, self.insecure)

    def stomp_targets(self) -> list[BrokerTarget]:
        """The STOMP brokers in failover order (``stomp`` holds comma-separated URLs)."""
        targets = parse_targets(self.stomp, Protocol.STOMP)
        return [
            target.with_password(self.stomp_password)
            .with_tls_options(self.tls_options())
            .with_vhost(self.stomp_vhost)
            for target in targets
        ]

    def mqtt_targets(self) -> list[BrokerTarget]:
        """The MQTT brokers in failover order (``mqtt`` holds comma-separated URLs)."""
        targets = parse_targets(self.mqtt, Protocol.MQTT)
        return [
            target.with_password(self.mqtt_password).with_tls_options(self.tls_options())
            for target in targets
        ]


def data_path(settings: Settings, environ: Mapping[str, str] = os.environ) -> Path:
    """``data_dir``, else ``$XDG_DATA_HOME/mwm-tui`` (~/.local/share by default)."""
    if settings.data_dir:
        return Path(settings.data_dir).expanduser()
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mwm-tui"


# What Python itself puts in LC_CTYPE when it starts under the C locale (PEP 538).
_COERCED_CTYPES = frozenset({"C.UTF-8", "C.utf8", "UTF-8"})


def locale_is_utf8(environ: Mapping[str, str] = os.environ) -> bool:
    """What the terminal's locale promises, by POSIX precedence: LC_ALL, LC_CTYPE, then LANG."""
    for variable in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(variable)
        # Python's own coercion of the C locale promises nothing about the terminal.
        coerced = value in _COERCED_CTYPES and environ.get("LANG", "C") in ("C", "POSIX", "")
        if variable == "LC_CTYPE" and coerced:
            continue
        if value:
            charset = value.replace("-", "").lower().partition(".")[2].partition("@")[0]
            return charset == "utf8"
    return False


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """``$MWM_CONFIG``, else ``$XDG_CONFIG_HOME/mwm-tui/config.toml`` (~/.config by default)."""
    if environ.get("MWM_CONFIG"):
        return Path(environ["MWM_CONFIG"])
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mwm-tui" / "config.toml"


def _coerce(name: str, value: Any, origin: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind == "bool":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError(value)
                return lowered in ("1", "true", "yes", "on")
            return bool(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        if name in _BROKER_LISTS and isinstance(value, list):
            # A TOML list of URLs (or files) is the same as one comma-separated string.
            if not all(isinstance(item, str) for item in value):
                raise ValueError(value)
            return ",".join(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: {name} = {value!r} is not a valid {kind}") from None
    return str(value)


_BROKER_LISTS = frozenset({"stomp", "mqtt", "overlay"})
_SECRETS = frozenset({"stomp_password", "mqtt_password"})


def _known(name: str) -> bool:
    return name in {f.name for f in fields(Settings)}


_FILE_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
}
_TYPE_WORDS = {"bool": "true or false", "int": "a whole number", "float": "a number"}


def _check_file_type(key: str, value: Any, path: Path) -> None:
    """TOML values carry their type: ``stomp = 5`` is a mistake, not the URL "5"."""
    name = key.replace("-", "_")
    kind = {f.name: f.type for f in fields(Settings)}[name]
    wanted = _FILE_TYPES.get(str(kind), (str,))
    if isinstance(value, bool) and bool not in wanted:
        ok = False
    elif name in _BROKER_LISTS and isinstance(value, list):
        ok = all(isinstance(item, str) for item in value)
    else:
        ok = isinstance(value, wanted)
    if not ok:
        what = _TYPE_WORDS.get(str(kind), "a string in quotes")
        if name in _BROKER_LISTS:
            what = "a URL in quotes or a list of them"
        raise ConfigError(f"{path}: {key} = {value!r} must be {what}")


def from_file(path: Path, *, required: bool = False) -> dict[str, Any]:
    """The settings in ``path``; a missing file is none, unless ``required``."""
    if path == Path(os.devnull):
        return {}  # MWM_CONFIG=/dev/null: no settings file at all, on purpose
    if not path.is_file():
        if required:
            what = "is not a file" if path.exists() else "does not exist"
            raise ConfigError(f"config file {path} (from MWM_CONFIG) {what}")
        return {}
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: over {MAX_CONFIG_BYTES:,} bytes: not a config file")
        text = raw.decode("utf-8")
        deep = deep_line(text, MAX_CONFIG_DEPTH, "\"'", "#")
        if deep is not None:
            raise ConfigError(f"{path}: line {deep}: nested deeper than {MAX_CONFIG_DEPTH} levels")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None
    except RecursionError:  # below the depth checked above; a clear line all the same
        raise ConfigError(f"{path}: nested too deep") from None
    unknown = sorted(key for key in data if not _known(key.replace("-", "_")))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    for key, value in data.items():
        _check_file_type(key, value, path)
    if any(key.replace("-", "_") in _SECRETS for key in data):
        _refuse_if_others_can_read(path)
    return {
        key.replace("-", "_"): _coerce(key.replace("-", "_"), value, str(path))
        for key, value in data.items()
    }


def _refuse_if_others_can_read(path: Path) -> None:
    """A file holding a password must be the owner's alone, as ssh insists for private keys."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{path} holds a password and group or others can access it "
            f"(mode {mode:04o}); fix it with: chmod 600 {path}"
        )


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields(Settings):
        variable = f"MWM_{f.name.upper()}"
        if variable in environ:
            values[f.name] = _coerce(f.name, environ[variable], variable)
    return values


def setting_sources(
    overrides: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """Where each setting of ``load_settings(overrides, environ)`` comes from: ``default``,
    the config file's path, ``MWM_*`` (the variable), ``--flag``, or ``locale`` (ascii)."""
    settings = load_settings(overrides, environ)
    path = config_path(environ)
    in_file = from_file(path, required=bool(environ.get("MWM_CONFIG")))
    in_environment = from_environment(environ)
    sources: dict[str, str] = {}
    for setting in fields(Settings):
        name = setting.name
        if overrides.get(name) is not None:
            sources[name] = "--" + name.replace("_", "-")
        elif name in in_environment:
            sources[name] = f"MWM_{name.upper()}"
        elif name in in_file:
            sources[name] = str(path)
        elif name == "ascii" and settings.ascii:
            sources[name] = "locale (not UTF-8)"
        else:
            sources[name] = "default"
    return sources


def is_secret(name: str) -> bool:
    """A setting never shown: a password."""
    return name in _SECRETS


def load_settings(
    overrides: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> Settings:
    """Defaults < config file < environment < command-line ``overrides`` (None means unset)."""
    settings = Settings()
    named = bool(environ.get("MWM_CONFIG"))
    settings = replace(settings, **from_file(config_path(environ), required=named))
    settings = replace(settings, **from_environment(environ))
    given = {key: value for key, value in overrides.items() if value is not None}
    settings = replace(settings, **given)
    if settings.devices < 1:
        raise ConfigError("devices must be at least 1")
    if not 0 < settings.stale_after < settings.offline_after <= MAX_SECONDS:
        raise ConfigError(f"need 0 < stale-after < offline-after <= {MAX_SECONDS:.0f} (a year)")
    if not 0 < settings.order_expiry <= MAX_SECONDS:
        raise ConfigError(f"order-expiry must be more than 0 and at most {MAX_SECONDS:.0f} seconds")
    if settings.max_devices < 1:
        raise ConfigError("max-devices must be at least 1")
    if settings.overlay_max_points < 1:
        raise ConfigError("overlay-max-points must be at least 1")
    if settings.record_max_mb <= 0:
        raise ConfigError("record-max-mb must be more than 0")
    if settings.record_keep < 1:
        raise ConfigError("record-keep must be at least 1")
    if not 0 < settings.history_days <= MAX_HISTORY_DAYS:
        raise ConfigError(f"history-days must be more than 0 and at most {MAX_HISTORY_DAYS:.0f}")
    if not settings.serve_host.strip():
        settings = replace(settings, serve_host=Settings.serve_host)  # empty: this machine only
    if settings.serve_max_seats < 1:
        raise ConfigError("serve max-seats must be at least 1")
    if not 0 < settings.serve_port < 65536:
        raise ConfigError(f"serve port {settings.serve_port} is not a TCP port (1-65535)")
    if not settings.ascii and not locale_is_utf8(environ):
        settings = replace(settings, ascii=True)
    if (settings.cert is None) != (settings.key is None):
        raise ConfigError("cert and key go together: give both for a client certificate")
    return settings
