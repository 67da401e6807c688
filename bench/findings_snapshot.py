"""Snapshot `exhort check`'s findings over a folder of real repositories, or compare with one.

    python bench/findings_snapshot.py take CORPUS OUT.json [--only NAME ...] [-- CHECK-ARGS]
    python bench/findings_snapshot.py compare CORPUS BEFORE.json [--only NAME ...] [-- CHECK-ARGS]

Each directory directly under CORPUS is one repository. `exhort check . --format json
--exit-zero --no-progress` runs inside it (so paths are relative to the repository), with
the exhort of the Python running this script. `compare` takes the snapshot again and prints
every finding that appeared or disappeared, per repository; it exits 1 when any did. Made
for engine changes that must change no finding: take a snapshot first, compare after each
change, with the same rules.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


def snapshot(corpus: Path, only: list[str], check_args: list[str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for repository in sorted(p for p in corpus.iterdir() if p.is_dir()):
        if only and repository.name not in only:
            continue
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "exhort", "check", ".", "--format", "json", "--exit-zero", "--no-progress",
             *check_args],
            cwd=repository, capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise SystemExit(f"{repository.name}: exhort check exited {result.returncode}\n{result.stderr}")
        findings = json.loads(result.stdout)
        findings.sort(key=lambda f: json.dumps(f, sort_keys=True))
        found[repository.name] = findings
        print(f"{repository.name:<16} {len(findings):6} findings  {time.perf_counter() - started:6.1f} s",
              file=sys.stderr)
    return found


def describe(finding: dict) -> str:
    return f"{finding['path']}:{finding['line']}:{finding['column']} {finding['code']} {finding['message'][:90]}"


def compare(before: dict[str, list[dict]], after: dict[str, list[dict]]) -> int:
    changed = 0
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            print(f"{name}: only in the {'new' if name in after else 'old'} snapshot (not compared)")
            continue
        old = Counter(json.dumps(f, sort_keys=True) for f in before[name])
        new = Counter(json.dumps(f, sort_keys=True) for f in after[name])
        gone, came = old - new, new - old
        if not gone and not came:
            print(f"{name:<16} identical ({sum(new.values())} findings)")
            continue
        changed += 1
        print(f"{name:<16} {sum(gone.values())} gone, {sum(came.values())} new")
        for text, count in sorted(gone.items()):
            print(f"  - {describe(json.loads(text))}" + (f" (x{count})" if count > 1 else ""))
        for text, count in sorted(came.items()):
            print(f"  + {describe(json.loads(text))}" + (f" (x{count})" if count > 1 else ""))
    return changed


def main() -> None:
    argv = sys.argv[1:]
    check_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, check_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["take", "compare"])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--only", nargs="*", default=[], help="repository names to check (default: all)")
    args = parser.parse_args(argv)
    if args.action == "take":
        found = snapshot(args.corpus, args.only, check_args)
        args.snapshot.write_text(json.dumps(found, indent=0, sort_keys=True))
        print(f"{sum(map(len, found.values()))} findings in {len(found)} repositories -> {args.snapshot}")
        return
    before = json.loads(args.snapshot.read_text())
    if args.only:
        before = {name: items for name, items in before.items() if name in args.only}
    after = snapshot(args.corpus, args.only or sorted(before), check_args)
    sys.exit(1 if compare(before, after) else 0)


if __name__ == "__main__":
    main()
