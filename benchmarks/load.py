"""What else keeps the machine busy while a benchmark measures."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path


def loadavg() -> float:
    """The one-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


class OtherCpu:
    """CPU time spent by processes that are neither this one nor its descendants."""

    def __init__(self) -> None:
        self._tick = os.sysconf("SC_CLK_TCK")
        self._began = time.monotonic()
        self._busy, self._ours = self._busy_seconds(), self._our_seconds()

    def _busy_seconds(self) -> float:
        # user nice system idle iowait irq softirq steal: all but idle and iowait.
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
        return (sum(fields) - fields[3] - fields[4]) / self._tick

    def _our_seconds(self) -> float:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            rest = stat[stat.rfind(")") + 2 :].split()
            parents[int(entry.name)] = int(rest[1])
            cpu[int(entry.name)] = (int(rest[11]) + int(rest[12])) / self._tick
        me = os.getpid()

        def ours(pid: int) -> bool:
            while pid > 1:
                if pid == me:
                    return True
                pid = parents.get(pid, 1)
            return False

        live = sum(seconds for pid, seconds in cpu.items() if pid != me and ours(pid))
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        return live + own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime

    def cores(self) -> float:
        """Average number of cores the other processes kept busy since this was made."""
        wall = time.monotonic() - self._began
        others = (self._busy_seconds() - self._busy) - (self._our_seconds() - self._ours)
        return max(others, 0.0) / wall if wall > 0 else 0.0
