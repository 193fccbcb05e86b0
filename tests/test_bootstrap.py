"""What the set-up installs: `make demo` the app alone, and `make test` packages whose services
are neither started nor left enabled (scripts/services.sh, run here on this machine)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV_TOOLS = ("pytest", "mypy", "ruff", "playwright", "hypothesis", "import-linter", "lxml")


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


@pytest.mark.slow  # a whole virtualenv installed from the package registry: a long wait
def test_the_demo_installs_the_app_alone(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = os.environ | {"MWM_VENV": str(venv)}
    command = ["bash", str(ROOT / "scripts" / "bootstrap"), "--app-only"]
    first = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert first.returncode == 0, first.stderr
    assert "pip install -e '.' into" in first.stderr
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    installed = {line.split("==")[0] for line in listed.splitlines()}
    assert "mwm-tui" in installed and "textual" in installed
    assert not installed & set(DEV_TOOLS)
    assert _size_mb(venv) < 150  # the app with the dev extra: about 370 MB
    version = subprocess.run(
        [str(venv / "bin" / "mwm-tui"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("mwm-tui ")
    again = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0 and "pip install" not in again.stderr


# What a package's maintainer scripts do: ship a unit and an init script, enable both, start it.
_PACKAGE_INSTALLS = r"""
set -u
ROOT_PREFIX=""
. "$1/scripts/services.sh"
unit="$2" marker="$3"
enabled_services | sort -u >"$4/before"
quiet_services_begin
printf '[Service]\nExecStart=/bin/touch %s\n[Install]\nWantedBy=multi-user.target\n' \
    "$marker" >"/etc/systemd/system/$unit.service"
cat >"/etc/init.d/$unit" <<INIT
#!/bin/sh
### BEGIN INIT INFO
# Provides: $unit
# Required-Start:
# Required-Stop:
# Default-Start: 2 3 4 5
# Default-Stop: 0 1 6
# Short-Description: a check
### END INIT INFO
[ "\$1" = start ] && touch "$marker"
exit 0
INIT
chmod 755 "/etc/init.d/$unit"
update-rc.d "$unit" defaults
systemctl enable --quiet "$unit.service"
echo "during: $(systemctl is-enabled "$unit.service")"
invoke-rc.d "$unit" start
deb-systemd-invoke start "$unit.service"
quiet_services_end
echo "after: $(systemctl is-enabled "$unit.service")"
enabled_services | sort -u >"$4/after"
[ -e "$marker" ] && echo "started while installing"
"/etc/init.d/$unit" start && [ -e "$marker" ] && echo "its init script starts it when run"
"""

_REMOVE = r"""
update-rc.d -f "$1" remove >/dev/null 2>&1
rm -f "/etc/systemd/system/$1.service" "/etc/init.d/$1"
rm -f "/etc/systemd/system/multi-user.target.wants/$1.service"
"""


def test_packages_install_without_leaving_a_service_started_or_enabled(
    tmp_path: Path, system_services: None
) -> None:
    unit = f"mwm-bootstrap-check-{os.getpid()}"
    marker = tmp_path / "started"
    policy = Path("/usr/sbin/policy-rc.d")
    policy_before = policy.read_bytes() if policy.exists() else None
    try:
        done = subprocess.run(
            ["bash", "-c", _PACKAGE_INSTALLS, "bash", str(ROOT), unit, str(marker), str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        subprocess.run(["bash", "-c", _REMOVE, "bash", unit], check=False)
    assert done.returncode == 0, done.stderr
    assert "during: enabled" in done.stdout and "after: disabled" in done.stdout
    assert "started while installing" not in done.stdout
    assert "its init script starts it when run" in done.stdout
    assert "policy-rc.d" in done.stderr and "denied" in done.stderr
    assert f"bootstrap: left disabled: {unit}.service" in done.stderr
    assert f"bootstrap: left disabled: {unit} " in done.stderr  # its SysV links
    before = (tmp_path / "before").read_text()
    assert (tmp_path / "after").read_text() == before, "only what the install enabled is undone"
    assert (policy.read_bytes() if policy.exists() else None) == policy_before
