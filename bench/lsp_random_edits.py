"""The long random-edit run of the language server (prints figures; not a test).

    python bench/lsp_random_edits.py [--seeds 1 2 3 ...] [--edits 10000] [--checkpoint-every 100]

Drives `exhort serve` over stdio with random incremental edits of one file of a small Mix
project (several changes per didChange, multi-byte text, CRLF, requests in the same write
as the change), and at each checkpoint compares the server's text with the client's and the
last published diagnostics with `exhort check` of the same text. See
tests/lsp/random_edits.py, which the short version in the test suite runs too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lsp"))

import random_edits  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--edits", type=int, default=10_000, help="content changes in all, split over the seeds")
    parser.add_argument("--checkpoint-every", type=int, default=100, help="didChange notifications between checkpoints")
    arguments = parser.parse_args()
    per_seed = arguments.edits // len(arguments.seeds)
    totals = {"edits": 0, "notifications": 0, "requests": 0, "content_modified": 0, "checkpoints": 0, "findings_compared": 0}
    failed = []
    started = time.monotonic()
    for seed in arguments.seeds:
        with tempfile.TemporaryDirectory() as work:
            def progress(outcome):
                print(f"  seed {seed}: {outcome.edits} edits, checkpoint {outcome.checkpoints}", file=sys.stderr, flush=True)

            outcome = random_edits.run(seed, per_seed, arguments.checkpoint_every, Path(work), log=progress)
        print(
            f"seed {seed} ({outcome.encoding}): {outcome.edits} edits in {outcome.notifications} didChange, "
            f"{outcome.requests} requests ({outcome.content_modified} ContentModified), {outcome.checkpoints} checkpoints, "
            f"{outcome.findings_compared} findings compared: {'FAILED' if outcome.failures else 'clean'}"
        )
        for failure in outcome.failures:
            print(f"  {failure}")
        failed += outcome.failures
        for key in totals:
            totals[key] += getattr(outcome, key)
    print(
        f"total: {totals['edits']} edits, {totals['notifications']} didChange, {totals['requests']} requests, "
        f"{totals['checkpoints']} checkpoints, {totals['findings_compared']} findings compared, "
        f"{len(failed)} failures, {time.monotonic() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
