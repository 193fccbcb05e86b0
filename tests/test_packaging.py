"""The wheel carries what the app loads at run time (the stylesheet, the map data), the man
page and the licenses of the code and of the data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_styles_and_coastline(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("mwm_tui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mwm_tui/styles/app.tcss" in names
    assert "mwm_tui/data/land_110m.json" in names
    assert "mwm_tui/data/borders_110m.json" in names
    assert "mwm_tui/data/places.tsv" in names
    assert "mwm_tui/commands/templates/app_index.html" in names
    assert "mwm_tui/commands/templates/login.html" in names
    assert "mwm_tui/commands/templates/seats_full.html" in names
    assert not any(name.startswith("tests/") for name in names)
    assert "mwm_tui-0.1.0.data/data/share/man/man1/mwm-tui.1" in names
    licenses = "mwm_tui-0.1.0.dist-info/licenses/"
    assert {f"{licenses}LICENSE", f"{licenses}mwm_tui/data/LICENSE"} <= names
    with zipfile.ZipFile(wheel) as packed:
        assert "MIT License" in packed.read(f"{licenses}LICENSE").decode()
        data_license = packed.read("mwm_tui/data/LICENSE").decode()
    assert "public domain" in data_license and "CC BY 4.0" in data_license
    assert "GeoNames" in data_license and "Natural Earth" in data_license
