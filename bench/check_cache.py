"""Benchmark: `exhort check` with and without its result cache, on real folders of Elixir.

    python bench/check_cache.py PATH [PATH ...] [--runs 3] [--jobs N]

For each folder, alternating so that a drift of the machine's speed hits all three alike:
  - uncached: `exhort check --no-cache` (reads and writes no cache),
  - first run: `exhort check` with an empty cache (checks everything and fills the cache),
  - second run: `exhort check` again, nothing changed (every result from the cache).
Prints the median, min and max seconds of each, and checks that the cached run prints
exactly what the uncached one prints. The cache goes to a temporary folder
(EXHORT_CACHE_DIR): the checked folders are never written to.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(folder: Path, cache: Path | None, jobs: int) -> tuple[float, str]:
    command = [sys.executable, "-m", "exhort", "check", "--no-progress", "--jobs", str(jobs), "."]
    env = {**os.environ, "NO_COLOR": "1"}
    if cache is None:
        command.insert(4, "--no-cache")
    else:
        env["EXHORT_CACHE_DIR"] = str(cache)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"exhort check failed in {folder}: {result.stderr}")
    return elapsed, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(f"{'folder':<28}{'files':>7}  {'uncached':>22}  {'first run (fills)':>22}  {'second run (cached)':>22}")
    for folder in args.paths:
        files = sum(1 for p in folder.rglob("*") if p.suffix in (".ex", ".exs", ".heex") and "deps" not in p.parts)
        times: dict[str, list[float]] = {"uncached": [], "first": [], "second": []}
        for _ in range(args.runs):
            cache = Path(tempfile.mkdtemp(prefix="exhort-cache-"))
            try:
                elapsed, uncached_out = run(folder, None, args.jobs)
                times["uncached"].append(elapsed)
                elapsed, first_out = run(folder, cache, args.jobs)
                times["first"].append(elapsed)
                elapsed, second_out = run(folder, cache, args.jobs)
                times["second"].append(elapsed)
            finally:
                shutil.rmtree(cache, ignore_errors=True)
            if not uncached_out == first_out == second_out:
                raise SystemExit(f"{folder}: the cached run printed something else than the uncached one")

        def cell(values: list[float]) -> str:
            return f"{statistics.median(values):6.2f} s ({min(values):.2f}-{max(values):.2f})"

        print(f"{folder.name:<28}{files:>7}  {cell(times['uncached']):>22}  {cell(times['first']):>22}  "
              f"{cell(times['second']):>22}")


if __name__ == "__main__":
    main()
