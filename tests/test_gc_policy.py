"""The periodic full collection keeps Textual's Region caches to what a few seconds use."""

from __future__ import annotations

from textual.geometry import Region

from mwm_tui.ui import gc_policy


def cached_entries() -> int:
    return sum(cache.cache_info().currsize for cache in gc_policy.REGION_CACHES)  # type: ignore[attr-defined]


def test_region_caches_are_known() -> None:
    names = {cache.__name__ for cache in gc_policy.REGION_CACHES}
    assert {"intersection", "overlaps", "translate", "union"} <= names, names


def test_distinct_spans_fill_the_caches_and_a_full_collection_empties_them() -> None:
    screen = Region(0, 0, 120, 40)
    for spans in range(3):
        for x in range(100):
            for width in range(1, 20):
                span = Region(x, spans, width, 1)
                span.intersection(screen)
                span.overlaps(screen)
                span.translate((1, 1))
        filled = cached_entries()
        gc_policy.collect_full()
        assert filled >= 3_000 and cached_entries() == 0, (filled, cached_entries())
