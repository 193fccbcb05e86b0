"""What the import contracts cannot see: the modules loaded at run time, third parties' own
imports included. One interpreter imports the layers in turn, lightest first."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UI_LIBRARIES = {"textual", "rich", "plotext"}
BROKER_CLIENTS = {"paho", "stomp"}
WEB_SERVER = {"aiohttp", "textual_serve"}
DASHBOARD = {"mwm_tui.ui", "mwm_tui.composition"}

# Imports each group of modules (argv: a JSON list of groups) and prints, for each, the
# packages loaded so far: top-level names and mwm_tui's own subpackages.
PROBE = """
import importlib, json, sys
loaded = []
for group in json.loads(sys.argv[1]):
    for module in group:
        importlib.import_module(module)
    names = {name.split(".")[0] for name in sys.modules}
    names |= {".".join(name.split(".")[:2]) for name in sys.modules if name.startswith("mwm_tui.")}
    loaded.append(sorted(names))
print(json.dumps(loaded))
"""


def modules_of(package: str) -> list[str]:
    """Every module of ``package`` by walking its directory, without importing it here."""
    path = ROOT.joinpath(*package.split("."))
    found = [package]
    found += [info.name for info in pkgutil.walk_packages([str(path)], f"{package}.")]
    return sorted(found)


DOMAIN = modules_of("mwm_tui.domain")
LIGHT_COMMANDS = ["mwm_tui.cli", "mwm_tui.commands.history", "mwm_tui.commands.export"]
BACK_END = [
    name for layer in ("adapters", "services", "sim") for name in modules_of(f"mwm_tui.{layer}")
]
SERVE = ["mwm_tui.commands.serve"]


@pytest.fixture(scope="module")
def loaded() -> list[set[str]]:
    """The packages loaded after each group: domain, light commands, back end, serve."""
    groups = [DOMAIN, LIGHT_COMMANDS, BACK_END, SERVE]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(groups)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [set(names) for names in json.loads(result.stdout)]


def test_module_discovery_finds_the_layers() -> None:
    # Guards the probe below against silently importing nothing.
    assert {"mwm_tui.domain.codecs", "mwm_tui.domain.fleet", "mwm_tui.domain.inbox"} <= set(DOMAIN)
    assert {"mwm_tui.adapters.base", "mwm_tui.services.dispatcher", "mwm_tui.sim.fleet"} <= set(
        BACK_END
    )


def test_the_domain_loads_no_ui_no_broker_client_and_no_web_server(
    loaded: list[set[str]],
) -> None:
    domain = loaded[0]
    assert "mwm_tui.domain" in domain
    assert sorted(domain & (UI_LIBRARIES | BROKER_CLIENTS | WEB_SERVER)) == []


def test_history_and_export_load_neither_the_dashboard_nor_a_broker_client(
    loaded: list[set[str]],
) -> None:
    commands = loaded[1]
    assert "mwm_tui.commands" in commands
    assert sorted(commands & (UI_LIBRARIES | BROKER_CLIENTS | WEB_SERVER | DASHBOARD)) == []


def test_the_links_and_the_outbox_load_no_ui(loaded: list[set[str]]) -> None:
    back_end = loaded[2]
    assert {"mwm_tui.adapters", "mwm_tui.services", "mwm_tui.sim", "paho", "stomp"} <= back_end
    assert sorted(back_end & (UI_LIBRARIES | DASHBOARD)) == []


def test_serve_loads_the_web_server_but_not_the_dashboard(loaded: list[set[str]]) -> None:
    # Each browser tab's dashboard is a process of its own; the server never draws one.
    serve = loaded[3]
    assert serve >= WEB_SERVER
    assert sorted(serve & ({"textual", "plotext"} | DASHBOARD)) == []
