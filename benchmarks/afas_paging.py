"""AFAS reading: keyset paging against skip paging, and the client's memory while streaming.

    .venv/bin/python -m benchmarks.afas_paging [--size medium|large] [--page-size 1000]

Starts a sandbox of the given size in a temporary directory and prints, for the items connector:
rows, calls, seconds and rows/s for keyset paging (what the client does) and for skip paging (what
naive clients do), their ratio, and the peak Python memory of streaming every row. Compare ratios
from one run; the machines are shared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets_tests.sandbox_process import running_sandbox


def _skip_paging(client: AfasClient, connector: str, key: str, take: int) -> tuple[int, int]:
    rows = calls = skip = 0
    while True:
        page = client._get_json(
            f"connectors/{connector}", {"skip": str(skip), "take": str(take), "orderbyfieldids": key}
        )
        calls += 1
        rows += len(page["rows"])
        if len(page["rows"]) < take:
            return rows, calls
        skip += take


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=["small", "medium", "large"], default="medium")
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_sandbox(Path(tmp) / "state", "--size", args.size) as box:
        with AfasClient(box.afas_settings(page_size=args.page_size)) as client:
            client.profit_version()  # TLS handshake and server warm-up out of the timings
            started, calls = time.perf_counter(), client.calls
            keyset_rows = sum(1 for _ in client.iter_rows("AfasSf_Items", key=("ItemCode",)))
            keyset_seconds, keyset_calls = time.perf_counter() - started, client.calls - calls
            started = time.perf_counter()
            skip_rows, skip_calls = _skip_paging(client, "AfasSf_Items", "ItemCode", args.page_size)
            skip_seconds = time.perf_counter() - started
            # Memory in a pass of its own: tracemalloc slows Python down and would skew the timings.
            tracemalloc.start()
            sum(1 for _ in client.iter_rows("AfasSf_Items", key=("ItemCode",)))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    print(f"size={args.size} page_size={args.page_size}")
    print(f"{'method':<8}{'rows':>9}{'calls':>7}{'seconds':>9}{'rows/s':>10}")
    print(f"{'keyset':<8}{keyset_rows:>9}{keyset_calls:>7}{keyset_seconds:>9.2f}{keyset_rows / keyset_seconds:>10.0f}")
    print(f"{'skip':<8}{skip_rows:>9}{skip_calls:>7}{skip_seconds:>9.2f}{skip_rows / skip_seconds:>10.0f}")
    print(f"keyset/skip time ratio: {keyset_seconds / skip_seconds:.2f}")
    print(f"peak Python memory while streaming {keyset_rows} rows: {peak / 1_048_576:.1f} MiB")


if __name__ == "__main__":
    main()
