"""mwm-tui: a terminal dashboard for a truck fleet over STOMP and MQTT."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mwm-tui")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
