"""What every benchmark script shares: percentiles, the machine it ran on, and problems that fail the run."""

from __future__ import annotations

import os
import platform
import time
import traceback
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

PROBLEMS: list[str] = []  # anything that makes the run fail (exit 1)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fail(problem: str) -> None:
    print(f"  PROBLEM: {problem}", flush=True)
    PROBLEMS.append(problem)


def run_part(name: str, part: Callable, *args):
    """One part of the benchmark; if it breaks, the others still run and the run fails."""
    try:
        return part(*args)
    except Exception as error:  # noqa: BLE001 — reported, and the run exits 1
        traceback.print_exc()
        fail(f"{name}: {type(error).__name__}: {(str(error).splitlines() or [''])[0]}")
        return None


def cpu_model() -> str:
    with suppress(OSError):  # no /proc (not Linux): ask the platform module instead
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def finish(began: float) -> int:
    """The closing lines of a run, and its exit status: 1 if anything went wrong."""
    print(f"\ntotal {time.perf_counter() - began:.0f} s; load average now {os.getloadavg()[0]:.2f}")
    for problem in PROBLEMS:
        print(f"FAILED: {problem}")
    return 1 if PROBLEMS else 0
