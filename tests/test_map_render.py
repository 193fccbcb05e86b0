"""The plotext map: exact size, coastline, markers, the selected label, threads and silence."""

from __future__ import annotations

import json
import logging
import random
import re
import sys
import threading

import plotext
import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.style import Style
from rich.text import Text

from mwm_tui.compat import plotext as plotext_parts
from mwm_tui.domain.geo import WORLD, Viewport, cell_of
from mwm_tui.domain.overlay import parse_overlay
from mwm_tui.ui import ansi_text, map_base
from mwm_tui.ui.map_render import Marker, render_map

ATLANTIC = Viewport(-40.0, -30.0, 20.0, 30.0)
PARIS = Viewport.around(2.35, 48.86, 0.3, 0.3)
SYMBOLS = {"online": "●", "stale": "◐", "offline": "✕"}
SELECTED = "◉"


def lines_of(text: Text) -> list[str]:
    return text.plain.split("\n")


def assert_size(text: Text, width: int, height: int) -> None:
    lines = lines_of(text)
    assert len(lines) == height
    assert [cell_len(line) for line in lines] == [width] * height


def has_braille(text: Text) -> bool:
    return any(0x2800 <= ord(char) <= 0x28FF for char in text.plain)


def style_of(text: Text, char: str) -> Style:
    offset = text.plain.index(char)
    return text.get_style_at_offset(Console(), offset)


@pytest.mark.parametrize(
    ("width", "height"), [(40, 12), (80, 24), (120, 40), (200, 60), (30, 8), (12, 4), (13, 5)]
)
@pytest.mark.parametrize("view", [WORLD, PARIS, ATLANTIC], ids=["world", "paris", "atlantic"])
def test_output_is_exactly_width_by_height_cells(width: int, height: int, view: Viewport) -> None:
    markers = [
        Marker("a", view.centre[0], view.centre[1], "online"),
        Marker("a-very-long-device-identifier", view.lon_max, view.lat_max, "stale", True),
    ]
    assert_size(render_map(width, height, view, markers), width, height)


def test_size_does_not_depend_on_the_terminal_size(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("LINES", "10")
    with caplog.at_level(logging.WARNING, logger="mwm_tui.ui.map_render"):
        text = render_map(200, 60, WORLD, [])
    assert_size(text, 200, 60)
    assert not caplog.records
    # The longitude ticks sit on the last row and reach the right-hand edge.
    assert lines_of(text)[-1].rstrip().endswith("180°E")


@pytest.mark.parametrize("width", [-1, 0, 1, 5, 10, 11, 12, 13, 20])
@pytest.mark.parametrize("height", [-1, 0, 1, 2, 3, 4, 5])
def test_tiny_sizes_do_not_crash(width: int, height: int) -> None:
    marker = Marker("x", 2.35, 48.86, "online", selected=True)
    text = render_map(width, height, WORLD, [marker])
    if width > 0 and height > 0:
        assert_size(text, width, height)


def test_tiny_size_says_so() -> None:
    assert "small" in render_map(20, 3, WORLD, []).plain


def test_coastline_appears_in_world_view_without_markers() -> None:
    assert has_braille(render_map(80, 24, WORLD, []))


def test_mid_atlantic_has_no_coastline() -> None:
    text = render_map(80, 24, ATLANTIC, [], legend=False)
    assert not has_braille(text)
    # Only the tick labels are left: the canvas itself is blank.
    assert all(not line[8:].strip() for line in lines_of(text)[:-1])


def test_coastline_can_be_switched_off() -> None:
    assert not has_braille(render_map(80, 24, WORLD, [], coastline=False, context=False))


@pytest.mark.parametrize("status", ["online", "stale", "offline"])
def test_marker_inside_the_view_appears(status: str) -> None:
    text = render_map(60, 20, ATLANTIC, [Marker("t1", -35.0, 25.0, status)], legend=False)
    assert text.plain.count(SYMBOLS[status]) == 1


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(-40.5, 25.0), (-29.9, 25.0), (-35.0, 19.0), (-35.0, 30.01), (float("nan"), 25)],
)
def test_marker_outside_the_view_is_left_out_not_clamped(lon: float, lat: float) -> None:
    text = render_map(60, 20, ATLANTIC, [Marker("t1", lon, lat, "offline")], legend=False)
    assert SYMBOLS["offline"] not in text.plain


@pytest.mark.parametrize(("lon", "lat"), [(-40.0, 20.0), (-30.0, 30.0), (-40.0, 30.0)])
def test_marker_on_the_border_is_inside(lon: float, lat: float) -> None:
    text = render_map(60, 20, ATLANTIC, [Marker("t1", lon, lat, "offline")], legend=False)
    assert SYMBOLS["offline"] in text.plain


def test_markers_take_the_corners_of_the_canvas() -> None:
    text = render_map(60, 20, ATLANTIC, [Marker("t1", -30.0, 30.0, "stale")], legend=False)
    lines = lines_of(text)
    assert lines[0].endswith(SYMBOLS["stale"])


def test_statuses_have_their_own_colour_and_shape() -> None:
    markers = [
        Marker("a", -38.0, 28.0, "online"),
        Marker("b", -35.0, 25.0, "stale"),
        Marker("c", -32.0, 22.0, "offline"),
    ]
    text = render_map(60, 20, ATLANTIC, markers, legend=False)
    colours = {}
    for status, symbol in SYMBOLS.items():
        assert text.plain.count(symbol) == 1
        style = style_of(text, symbol)
        # Offline is its glyph on a red block; the others are coloured glyphs.
        colour = style.bgcolor if status == "offline" else style.color
        assert colour is not None
        colours[status] = colour.number
    assert colours == {"online": 10, "stale": 11, "offline": 9}


def test_selected_marker_stands_out_with_its_label() -> None:
    markers = [
        Marker("other", -38.0, 28.0, "online"),
        Marker("truck-7", -35.0, 25.0, "online", True),
    ]
    text = render_map(60, 20, ATLANTIC, markers, legend=False)
    # The other truck's marker, and the selected one's status beside its selection mark.
    assert text.plain.count(SYMBOLS["online"]) == 2
    assert text.plain.count(SELECTED) == 1
    assert style_of(text, SELECTED).bold
    row = next(line for line in lines_of(text) if SELECTED in line)
    assert f"{SELECTED}{SYMBOLS['online']} truck-7" in row


def test_label_is_plain_text_never_markup() -> None:
    marker = Marker("[red]x[/red]", -35.0, 25.0, "offline", True)
    text = render_map(60, 20, ATLANTIC, [marker], legend=False)
    assert "[red]x[/red]" in text.plain
    start = text.plain.index("[red]x[/red]")
    for offset in range(start, start + len("[red]x[/red]")):
        style = text.get_style_at_offset(Console(), offset)
        assert style.color is not None and style.color.number == 15


def test_label_control_characters_cannot_reach_the_terminal() -> None:
    marker = Marker("a\x1b[31mb\x07", -35.0, 25.0, "offline", True)
    text = render_map(60, 20, ATLANTIC, [marker], legend=False)
    assert "\x1b" not in text.plain and "\x07" not in text.plain
    assert "a\\x1b[31mb\\x07" in text.plain


def test_label_near_the_right_edge_goes_left_of_the_marker() -> None:
    text = render_map(
        60, 20, ATLANTIC, [Marker("truck-7", -30.2, 25.0, "online", True)], legend=False
    )
    row = next(line for line in lines_of(text) if SELECTED in line)
    assert f"truck-7 {SYMBOLS['online']}{SELECTED}" in row


def test_label_wider_than_the_map_is_shortened() -> None:
    name = "a-device-id-far-longer-than-the-map-is-wide"
    text = render_map(30, 8, ATLANTIC, [Marker(name, -35.0, 25.0, "online", True)], legend=False)
    assert SELECTED in text.plain
    assert "…" in text.plain
    assert_size(text, 30, 8)


def test_wide_characters_in_the_label_keep_the_size() -> None:
    text = render_map(
        60, 20, ATLANTIC, [Marker("卡车-七", -35.0, 25.0, "online", True)], legend=False
    )
    assert "卡车-七" in text.plain
    assert_size(text, 60, 20)


def test_city_view_shows_the_markers_and_degree_ticks() -> None:
    markers = [Marker("eiffel", 2.2945, 48.8584, "online", True), Marker("b", 2.35, 48.86, "stale")]
    text = render_map(120, 40, PARIS, markers)
    assert "eiffel" in text.plain
    assert SYMBOLS["stale"] in text.plain
    assert "°N" in text.plain and "°E" in text.plain


def test_many_markers_render() -> None:
    markers = [
        Marker(
            f"t{i}", -180.0 + (i * 0.36), -80.0 + (i * 0.16), ("online", "stale", "offline")[i % 3]
        )
        for i in range(1000)
    ]
    text = render_map(200, 60, WORLD, markers)
    assert_size(text, 200, 60)
    for symbol in SYMBOLS.values():
        assert symbol in text.plain


def test_nothing_is_written_to_the_terminal(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    figure = plotext.figure
    build = figure.build

    def chatty_build() -> object:
        print("plotext says hello")
        print("plotext warns", file=sys.stderr)
        return build()

    monkeypatch.setattr(figure, "build", chatty_build)
    text = render_map(80, 24, WORLD, [Marker("a", 0.0, 0.0, "online", True)])
    assert_size(text, 80, 24)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_same_result_from_many_threads_at_once() -> None:
    cases = [
        (80, 24, WORLD, [Marker("a", 10.0, 50.0, "online", True)]),
        (60, 20, ATLANTIC, [Marker("b", -35.0, 25.0, "stale", True)]),
        (100, 30, PARIS, [Marker("c", 2.35, 48.86, "offline", True)]),
    ]
    expected = [render_map(*case) for case in cases]
    results: dict[int, list[Text]] = {}

    def work(worker: int) -> None:
        results[worker] = [render_map(*cases[(worker + i) % 3]) for i in range(6)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker, texts in results.items():
        for i, text in enumerate(texts):
            want = expected[(worker + i) % 3]
            assert text.plain == want.plain
            assert text.spans == want.spans


# --- context: places, borders, legend, scale, clusters, trail, ASCII ------------------------

PARIS_CITY = Viewport.around(2.35, 48.86, 0.4, 0.25)
EUROPE = Viewport.around(10.0, 50.0, 50.0, 30.0)


def test_city_view_names_paris_and_its_suburbs() -> None:
    plain = render_map(120, 40, PARIS_CITY, []).plain
    for name in ("Paris", "Boulogne-Billancourt", "Saint-Denis", "Montreuil"):
        assert name in plain


def test_world_and_continent_views_name_capitals_not_suburbs() -> None:
    world = render_map(120, 40, WORLD, []).plain
    europe = render_map(120, 40, EUROPE, []).plain
    for plain in (world, europe):
        assert "Boulogne-Billancourt" not in plain and "Montreuil" not in plain
    assert "Paris" in europe and "Berlin" in europe
    assert "Beijing" in world


def test_place_names_are_drawn_fainter_than_the_trucks() -> None:
    text = render_map(120, 40, PARIS_CITY, [Marker("t", 2.30, 48.95, "online")])
    colour = style_of(text, "Montreuil").color
    assert colour is not None and colour.number == 250
    assert not style_of(text, "Montreuil").bold


def test_borders_are_drawn_fainter_than_the_coast() -> None:
    alps = Viewport.around(8.0, 46.5, 6.0, 3.0)  # Swiss borders, no sea
    text = render_map(100, 30, alps, [], legend=False)
    colours = {
        text.get_style_at_offset(Console(), i).color.number  # type: ignore[union-attr]
        for i, char in enumerate(text.plain)
        if 0x2800 < ord(char) <= 0x28FF
    }
    assert colours == {238}
    coast = render_map(100, 30, WORLD, [], legend=False, context=False)
    assert style_of(coast, next(c for c in coast.plain if 0x2800 < ord(c) <= 0x28FF)).color
    coast_colour = style_of(coast, next(c for c in coast.plain if 0x2800 < ord(c) <= 0x28FF))
    assert coast_colour.color is not None and coast_colour.color.number == 241


def test_legend_names_every_mark_with_the_status_glyphs() -> None:
    first = lines_of(render_map(120, 30, PARIS_CITY, []))[0]
    for glyph, word in [
        ("●", "online"),
        ("◐", "stale"),
        ("✕", "offline"),
        ("?", "unknown (HQ outage)"),
        ("◉", "selected"),
    ]:
        assert f"{glyph} {word}" in first


def test_narrow_legend_is_shortened_not_cut() -> None:
    first = lines_of(render_map(50, 20, PARIS_CITY, []))[0]
    assert "● on" in first.replace("●on", "● on") and "OFF" in first and "sel" in first


def test_scale_bar_names_a_round_distance() -> None:
    first = lines_of(render_map(120, 30, PARIS_CITY, []))[0]
    assert first.rstrip().endswith(" km")
    bar = first.split("├")[1].split("┤")[0]
    assert set(bar) == {"─"}
    world_first = lines_of(render_map(120, 30, WORLD, []))[0]
    assert world_first.rstrip().endswith("000 km")


def test_no_legend_on_a_short_map() -> None:
    text = render_map(60, 6, PARIS_CITY, [Marker("a", 2.35, 48.86, "online")])
    assert "online" not in text.plain
    assert_size(text, 60, 6)


def test_two_hundred_trucks_round_paris_show_counts_not_a_blob() -> None:
    markers = [
        Marker(f"t{i}", 2.35 + (i % 20 - 10) * 0.004, 48.86 + (i // 20 - 5) * 0.004, "online")
        for i in range(200)
    ]
    text = render_map(100, 30, PARIS_CITY, markers, legend=False)
    counts = [int(word) for word in re.findall(r"(?<![\d.])\d+(?![\d.°])", text.plain)]
    assert counts and sum(counts) + text.plain.count("●") == 200
    assert text.plain.count("●") < 50


def test_problem_trucks_are_never_hidden_in_a_cluster() -> None:
    markers = [Marker(f"t{i}", 2.35 + i * 1e-5, 48.86, "online") for i in range(10)]
    markers.append(Marker("bad", 2.35 + 0.001, 48.86, "offline"))
    text = render_map(100, 30, PARIS_CITY, markers, legend=False)
    # The ten online trucks are one count; the offline one beside them is its own mark.
    assert text.plain.count("✕") == 1
    assert "10" in text.plain and "11" not in text.plain


def test_offline_is_a_bold_block_brightest_without_colour() -> None:
    offline = [Marker("x", -35.0, 25.0, "offline")]
    colour = style_of(render_map(60, 20, ATLANTIC, offline, legend=False), "✕")
    assert colour.bold and colour.bgcolor is not None and colour.bgcolor.number == 9
    assert colour.color is not None and colour.color.number == 15
    # Without colour Textual shows greys: black on white is the brightest block on the map.
    grey = style_of(render_map(60, 20, ATLANTIC, offline, legend=False, no_color=True), "✕")
    assert grey.bold and grey.bgcolor is not None and grey.bgcolor.number == 15
    assert grey.color is not None and grey.color.number == 0
    online = style_of(render_map(60, 20, ATLANTIC, [Marker("o", -35.0, 25.0, "online")]), "●")
    assert online.bgcolor is None and not online.dim


def test_legend_shows_offline_as_the_map_draws_it() -> None:
    text = render_map(120, 30, PARIS_CITY, [], no_color=True)
    legend_offline = text.get_style_at_offset(Console(), text.plain.index("✕ offline"))
    assert legend_offline.bgcolor is not None and legend_offline.bgcolor.number == 15


def test_selected_offline_truck_keeps_its_offline_mark() -> None:
    text = render_map(60, 20, ATLANTIC, [Marker("truck-7", -35.0, 25.0, "offline", True)])
    row = next(line for line in lines_of(text)[1:] if SELECTED in line)
    assert f"{SELECTED}✕ truck-7" in row
    offline_offset = text.plain.index(f"{SELECTED}✕") + 1
    assert text.get_style_at_offset(Console(), offline_offset).bgcolor is not None


def test_trail_is_drawn_behind_the_selected_truck() -> None:
    marker = Marker("truck-7", -32.0, 28.0, "online", True)
    trail = [(-38.0 + i * 0.6, 22.0 + i * 0.6) for i in range(11)]
    with_trail = render_map(60, 20, ATLANTIC, [marker], trail=trail, legend=False)
    without = render_map(60, 20, ATLANTIC, [marker], legend=False)
    assert has_braille(with_trail) and not has_braille(without)
    assert style_of(with_trail, next(c for c in with_trail.plain if 0x2800 < ord(c) <= 0x28FF))
    assert SELECTED in with_trail.plain


@pytest.mark.parametrize("view", [WORLD, EUROPE, PARIS_CITY], ids=["world", "europe", "paris"])
def test_ascii_map_uses_ascii_characters_only(view: Viewport) -> None:
    markers = [
        Marker("truck-é", view.centre[0], view.centre[1], "offline", True),
        Marker("b", view.centre[0] + view.lon_span / 5, view.centre[1], "stale"),
        *(
            Marker(f"c{i}", view.centre[0] - view.lon_span / 4, view.centre[1], "online")
            for i in range(6)
        ),
    ]
    trail = [(view.lon_min + view.lon_span * i / 10, view.centre[1]) for i in range(6)]
    text = render_map(120, 30, view, markers, trail=trail, ascii_only=True)
    assert text.plain.isascii(), sorted({c for c in text.plain if not c.isascii()})
    assert_size(text, 120, 30)
    assert "@X truck-\\xe9" in text.plain
    assert "X offline" in lines_of(text)[0] and "km" in lines_of(text)[0]


def test_ascii_place_names_lose_their_accents() -> None:
    text = render_map(120, 40, PARIS_CITY, [], ascii_only=True)
    assert "Creteil" in text.plain or "Asnieres-sur-Seine" in text.plain


def test_redraw_with_moved_trucks_reuses_the_base_layer() -> None:
    render_map(100, 30, PARIS_CITY, [Marker("a", 2.35, 48.86, "online")])
    cached = dict(map_base._base_cache)
    render_map(100, 30, PARIS_CITY, [Marker("a", 2.36, 48.87, "stale")])
    assert dict(map_base._base_cache) == cached
    assert all(a is b for a, b in zip(cached.values(), map_base._base_cache.values(), strict=True))


@pytest.mark.parametrize("view", [WORLD, PARIS_CITY], ids=["world", "paris"])
def test_adding_signals_directly_draws_what_plotext_draw_does(
    view: Viewport, monkeypatch: pytest.MonkeyPatch
) -> None:
    markers = [
        Marker(f"t{i}", view.centre[0] + i * view.lon_span / 50, view.centre[1], status)
        for i, status in enumerate(["online"] * 6 + ["offline", "stale", "unknown"])
    ]
    markers.append(Marker("sel", view.centre[0], view.centre[1] - view.lat_span / 5, "stale", True))
    fast = render_map(120, 40, view, markers)
    assert plotext.figure._signals._add  # the private hook the fast path takes
    monkeypatch.setattr(plotext_parts, "SKIP_CYCLER", False)
    map_base.clear_caches()
    slow = render_map(120, 40, view, markers)
    assert fast.plain == slow.plain
    assert fast.spans == slow.spans


def test_cell_of_names_the_cell_plotext_draws_in_even_at_cell_borders() -> None:
    view = Viewport(2.1, 2.6, 48.7, 49.0)
    columns, rows = 40, 6  # no ticks: the canvas is the whole picture
    rng = random.Random(5)
    for _ in range(150):
        # Points within a thousandth of a cell of a cell border, where rounding decides.
        lon = view.lon_min + view.lon_span * (rng.randint(0, columns) / columns)
        lat = view.lat_min + view.lat_span * (rng.randint(0, rows) / rows)
        lon += rng.uniform(-1e-3, 1e-3) * view.lon_span / columns
        lat += rng.uniform(-1e-3, 1e-3) * view.lat_span / rows
        lon = min(max(lon, view.lon_min), view.lon_max)
        lat = min(max(lat, view.lat_min), view.lat_max)
        marker = Marker("a", lon, lat, "stale")
        text = render_map(columns, rows, view, [marker], legend=False, context=False)
        lines = lines_of(text)
        row = next(i for i, line in enumerate(lines) if SYMBOLS["stale"] in line)
        assert (lines[row].index(SYMBOLS["stale"]), row) == cell_of(view, columns, rows, lon, lat)


def styles_by_character(text: Text) -> list[tuple[str, Style]]:
    """Each character with the style it is drawn in, however the spans are cut."""
    styles = []
    for i, char in enumerate(text.plain):
        covering = [span.style for span in text.spans if span.start <= i < span.end]
        styles.append((char, Style.chain(Style(), *(s for s in covering if isinstance(s, Style)))))
    return styles


@pytest.mark.parametrize(
    "ansi",
    [
        "plain\n\x1b[0m\x1b[38;5;241m⡠⠔\x1b[0m  \x1b[0m\x1b[38;5;10m●\x1b[0m\n\x1b[0m",
        "\x1b[38;5;11m\x1b[1m◐\x1b[0m x \x1b[0m\x1b[38;5;15m\x1b[48;5;9m\x1b[1m✕\x1b[0m",
        # Codes inside a piece, without plotext's reset before them; and the short reset.
        "\x1b[0m\x1b[38;5;13ma\x1b[1mb\x1b[mc\x1b[38;5;10md\x1b[0m\x1b[0me",
        "no codes at all",
    ],
)
def test_plotext_output_is_read_as_rich_reads_it(ansi: str) -> None:
    ours = ansi_text.from_sgr(ansi)
    rich = Text.from_ansi(ansi, no_wrap=True, overflow="crop", end="")
    assert ours.plain == rich.plain
    assert styles_by_character(ours) == styles_by_character(rich)


@pytest.mark.parametrize(
    "lines",
    [["ab", "cd"], ["⠁⠂●", "✕◐·"], ["中a", "abc"], ["a\u200d", "ab"], ["⌂", "ab"], ["abc", "ab"]],
)
def test_every_line_width_is_measured_as_rich_measures_it(lines: list[str]) -> None:
    for width in (2, 3):
        expected = all(cell_len(line) == width for line in lines)
        assert ansi_text.all_cell_lengths(lines, width) == expected


@pytest.mark.parametrize(
    "ansi",
    [
        "\x1b[0m\x1b[38;5;10m●\x1b[0m  a\n\x1b[0m\x1b[38;5;241m⡠⠔\x1b[0mbc\n",
        "\x1b[0m\x1b[38;5;10m中\x1b[0m  a\nabcd\n",  # wider than plotext counted: cut to size
        "\x1b[2Jab\x1b[0m\x1b[38;5;10m●\x1b[0mc\nabcd",  # not a colour code: rich decodes it all
    ],
)
def test_the_legend_line_is_put_above_the_picture_as_text_join_puts_it(ansi: str) -> None:
    head = Text("x ", style="bold", no_wrap=True, overflow="crop", end="")
    head.append("● on", Style(color="green"))
    picture = ansi_text.to_text(ansi, 4, 2)
    joined = Text("\n", no_wrap=True, overflow="crop", end="").join([head, picture])
    ours = ansi_text.to_text(ansi, 4, 2, head=head)
    assert (ours.plain, ours.spans, ours.style) == (joined.plain, joined.spans, joined.style)
    assert (ours.no_wrap, ours.overflow, ours.end) == (joined.no_wrap, joined.overflow, joined.end)


OVERLAY = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": name}, "geometry": geometry}
            for name, geometry in (
                ("Rungis depot", {"type": "Point", "coordinates": [2.3522, 48.7469]}),
                ("Lyon depot", {"type": "Point", "coordinates": [4.85, 45.75]}),
                ("A6", {"type": "LineString", "coordinates": [[2.35, 48.82], [4.85, 45.75]]}),
                (
                    "Zone",
                    {"type": "Polygon", "coordinates": [[[2, 48], [5, 48], [5, 46], [2, 48]]]},
                ),
            )
        ],
    }
)


@pytest.mark.parametrize(
    "options",
    [{}, {"ascii_only": True}, {"no_color": True}],
    ids=["unicode", "ascii", "no-colour"],
)
def test_signals_made_directly_draw_what_plotext_public_api_draws(
    options: dict[str, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The benchmark's large view, busy: clusters, lone trucks, names, borders, trail, overlay.
    view = Viewport.around(10.0, 50.0, 40.0, 25.0)
    rng = random.Random(7)
    statuses = ["online"] * 17 + ["stale", "offline", "unknown"]
    markers = [
        Marker(
            f"truck-{n:04d}",
            min(max(rng.gauss(10.0, 40.0 / 6), view.lon_min), view.lon_max),
            min(max(rng.gauss(50.0, 25.0 / 6), view.lat_min), view.lat_max),
            rng.choice(statuses),
            n == 0,
        )
        for n in range(400)
    ]
    trail = [(markers[0].lon - i * 0.2, markers[0].lat - i * 0.1) for i in range(20)][::-1]
    overlay = parse_overlay(OVERLAY, "test.geojson")
    assert plotext_parts.fast_path_problem() is None  # the plotext parts the direct way takes
    fast = render_map(200, 60, view, markers, trail=trail, overlay=overlay, **options)
    monkeypatch.setattr(plotext_parts, "SKIP_CYCLER", False)
    map_base.clear_caches()
    slow = render_map(200, 60, view, markers, trail=trail, overlay=overlay, **options)
    assert fast.plain == slow.plain
    assert fast.spans == slow.spans
    assert "Lyon depo" in fast.plain and "truck-0000" in fast.plain  # a truck may hide a letter
