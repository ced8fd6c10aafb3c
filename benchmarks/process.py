"""What the benchmarks measure of a process of their own."""

from __future__ import annotations

from pathlib import Path


def own_peak_mib() -> float:
    """This process's own peak RSS since its exec; the parent's pages a fork copied do not count (they would
    in the rusage `wait4` reports)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
