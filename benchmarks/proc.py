"""The measured side of the benchmarks: how a child process reports to ``run.py``."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from collections.abc import Callable, Mapping
from typing import Any

# Seconds without progress after which a subscriber is taken to have had all it will get.
IDLE_END = 5.0
# The original stdout: Textual redirects sys.stdout, never file descriptor 1 itself.
_OUT = os.dup(1)

Params = dict[str, Any]


def report(tag: str, value: object = None) -> None:
    """One ``@@TAG json`` line to the parent."""
    os.write(_OUT, f"@@{tag} {json.dumps(value)}\n".encode())


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def window(count: int, first_at: float, last_at: float, cpu: float) -> dict[str, float]:
    """Messages, rate and CPU per message between the first and the last message."""
    span = last_at - first_at
    return {
        "count": count,
        "seconds": span,
        "rate": count / span if span > 0 else 0.0,
        "cpu_us": cpu / count * 1e6 if count else 0.0,
    }


def child_main(kinds: Mapping[str, Callable[[Params], Any]], argv: list[str]) -> int:
    """``python -m benchmarks.<module> KIND PARAMS_JSON``: run one measurement."""
    kind, params = argv[0], json.loads(argv[1])
    try:
        outcome = kinds[kind](params)
        if asyncio.iscoroutine(outcome):
            asyncio.run(outcome)
    except Exception as error:
        # Also after RESULT: the app failing on its way out is worth reporting.
        report("ERROR", f"{type(error).__name__}: {error}")
        raise
    return 0


def main_of(kinds: Mapping[str, Callable[[Params], Any]]) -> None:
    sys.exit(child_main(kinds, sys.argv[1:]))
