"""Layering: the domain and the adapters never pull in the UI libraries."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UI_LIBRARIES = ("textual", "rich", "plotext")
BROKER_CLIENTS = ("paho", "stomp")

# Prints the top-level packages loaded by importing one module, as JSON.
PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def modules_of(package: str) -> list[str]:
    """Every module of ``package`` by walking its directory, without importing it here."""
    path = ROOT.joinpath(*package.split("."))
    found = [package]
    found += [info.name for info in pkgutil.walk_packages([str(path)], f"{package}.")]
    return sorted(found)


DOMAIN_MODULES = modules_of("mwm_tui.domain")
ADAPTER_MODULES = modules_of("mwm_tui.adapters")


def loaded_after_import(module: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"importing {module} failed:\n{result.stderr}"
    return set(json.loads(result.stdout))


def test_module_discovery_finds_the_layers() -> None:
    # Guards the parametrised tests below against silently checking nothing.
    assert {"mwm_tui.domain.codecs", "mwm_tui.domain.fleet", "mwm_tui.domain.inbox"} <= set(
        DOMAIN_MODULES
    )
    assert "mwm_tui.adapters.base" in ADAPTER_MODULES


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_module_imports_no_ui_and_no_broker_client(module: str) -> None:
    loaded = loaded_after_import(module)
    assert "mwm_tui" in loaded
    assert not loaded & {*UI_LIBRARIES, *BROKER_CLIENTS}, sorted(loaded)


@pytest.mark.parametrize("module", ADAPTER_MODULES)
def test_adapter_module_imports_no_ui(module: str) -> None:
    loaded = loaded_after_import(module)
    assert not loaded & set(UI_LIBRARIES), sorted(loaded)


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), "install the dev extra: pip install -e '.[dev]'"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "0 broken" in output
    assert "domain is pure: no UI, no broker client KEPT" in output
    assert "adapters never touch the UI KEPT" in output
