"""Workspace indexing by the real language server over stdio (prints figures; not a test).

    python bench/index_workspace.py --project /work/corpus/glific [--project ...] [--runs 3]

For each project folder: the server is started on it, and the time from `initialized` to the
index being complete (`exhort.debug.index` says done; polled every 20 ms) is measured, with
an empty facts cache (cold) and then again with the cache the first start left (warm). The
cache goes to a scratch folder (EXHORT_CACHE_DIR), never into the project; it is written after
the index is complete (the server is left to finish writing it before the next start). Also printed: the files the index holds facts for, and the server's CPU time until
the index was done (with its living child processes').
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsp_latency import Client  # bench/ is on sys.path when this script runs


def index_once(command: list[str], project: Path, cache: Path) -> tuple[float, int, float]:
    """ms from initialized to the index done, the files indexed, the server's CPU seconds."""
    environment = dict(os.environ, EXHORT_CACHE_DIR=str(cache))
    client = Client(command, str(project), env=environment)
    client.request(
        "initialize",
        {"processId": os.getpid(), "rootUri": project.as_uri(), "capabilities": {},
         "workspaceFolders": [{"uri": project.as_uri(), "name": project.name}]},
    )
    started = time.perf_counter()
    client.notify("initialized", {})
    while True:
        state = client.request("workspace/executeCommand", {"command": "exhort.debug.index"})["result"]
        if state["done"]:
            break
        time.sleep(0.02)
    elapsed = (time.perf_counter() - started) * 1000
    cpu = client.cpu_seconds(children=True)
    # The facts cache is written once the index is complete: let that finish, so that the
    # next start finds it.
    while not client.request("workspace/executeCommand", {"command": "exhort.debug.index"})["result"].get("facts_stored", True):  # (older servers: no cache)
        time.sleep(0.05)
    client.close()
    return elapsed, len(state["paths"]), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, action="append", required=True, help="a Mix project folder (repeatable)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", nargs="+", default=[sys.executable, "-m", "exhort.lsp", "--log-level", "warning"])
    arguments = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for project in arguments.project:
        cold, warm, cpu_cold = [], [], []
        files = 0
        for _ in range(arguments.runs):
            with tempfile.TemporaryDirectory() as cache:
                elapsed, files, cpu = index_once(arguments.server, project.resolve(), Path(cache))
                cold.append(elapsed)
                cpu_cold.append(cpu)
                warm.append(index_once(arguments.server, project.resolve(), Path(cache))[0])
        print(f"{project}: {files} files with facts")
        print(f"  initialized -> index done, cold cache: median {statistics.median(cold):.0f} ms "
              f"(runs {', '.join(f'{value:.0f}' for value in cold)}); server CPU {statistics.median(cpu_cold):.1f} s")
        print(f"  initialized -> index done, warm cache: median {statistics.median(warm):.0f} ms "
              f"(runs {', '.join(f'{value:.0f}' for value in warm)})")


if __name__ == "__main__":
    main()
