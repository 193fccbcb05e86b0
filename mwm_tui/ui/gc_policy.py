"""Garbage-collector tuning: no automatic full collections during a message flood.

Measured here: at 20k msg/s CPython's automatic gen2 collections paused the UI for 105-175 ms
every ~2 s. Long-lived startup objects are frozen and full collections run on our timer instead.
"""

from __future__ import annotations

import gc

FULL_COLLECTION_INTERVAL = 30.0


def tune() -> None:
    """Freeze what exists now and leave gen2 to ``collect_full``."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(max(young, 10_000), middle, 1_000_000_000)


def collect_full() -> None:
    gc.collect()
