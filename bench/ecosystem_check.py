"""Ecosystem check: run `exhort check` over pinned real Elixir repositories and read the result.

Real code, not the rules' own examples, is where precision is decided. This script (not part
of the test suite) works on the repositories named in bench/ecosystem/repos.toml:

    python bench/ecosystem_check.py prepare --mirrors DIR [--corpus DIR]
        check out each repository's Elixir sources at its pinned commit from a git mirror
        (DIR/<owner>+<name>/repo, as the fetch tool leaves them) into the corpus folder
    python bench/ecosystem_check.py run [--corpus DIR] [--out DIR] [--select CODES]
        run `exhort check --format json` on every repository, print findings per rule and per
        repository, and the difference from the previous run kept in --out
    python bench/ecosystem_check.py sample CODE [--count 30] [--seed 1]
        draw findings of one rule at random across repositories into
        bench/ecosystem/judged/CODE.jsonl, keeping verdicts already given, for reading by hand
    python bench/ecosystem_check.py show CODE
        print each finding of the sample with its source context, to judge it
    python bench/ecosystem_check.py precision [CODES]
        per rule: the judged sample's precision, and against the latest run, how many judged
        true findings are still reported and how many false or noisy ones still are

A judged line is {"repo", "path", "line", "code", "message", "verdict", "reason"}; the verdict
is "true", "true-in-test" (right, but in a test that exercises the error on purpose), "noise"
(right in letter, not worth a reviewer's time) or "false". Precision counts the first two.

The corpus lives outside this repository: ../ecosystem-corpus beside the checkout, or the
folder EXHORT_ECOSYSTEM_CORPUS names. Results are kept per checkout in .ecosystem/.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPOS_FILE = HERE / "ecosystem" / "repos.toml"
JUDGED = HERE / "ecosystem" / "judged"
DEFAULT_CORPUS = Path(os.environ.get("EXHORT_ECOSYSTEM_CORPUS", ROOT.parent / "ecosystem-corpus"))
DEFAULT_OUT = ROOT / ".ecosystem"  # per checkout: results of this checkout's rules (gitignored)
SOURCE_SUFFIXES = (".ex", ".exs", ".heex", ".eex", ".toml")
GOOD_VERDICTS = ("true", "true-in-test")
VERDICTS = (*GOOD_VERDICTS, "noise", "false")


def repositories() -> list[dict]:
    return tomllib.loads(REPOS_FILE.read_text())["repo"]


def prepare(mirrors: Path, corpus: Path) -> None:
    for repo in repositories():
        git_dir = mirrors / repo["github"].replace("/", "+") / "repo"
        if (git_dir / ".git").is_dir():
            git_dir = git_dir / ".git"
        if not git_dir.is_dir():
            print(f"{repo['name']}: no mirror at {git_dir} (fetch github:{repo['github']})", file=sys.stderr)
            continue
        target = corpus / repo["name"]
        listing = subprocess.run(
            ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", "--name-only", repo["commit"]],
            check=True, capture_output=True,
        ).stdout.split(b"\0")
        wanted = [name for name in listing if name.decode(errors="replace").endswith(SOURCE_SUFFIXES)]
        # One `cat-file --batch` for every file; a file the snapshot lacks (too large) is "missing".
        batch = subprocess.run(
            ["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
            input=b"".join(repo["commit"].encode() + b":" + name + b"\n" for name in wanted),
            check=True, capture_output=True,
        ).stdout
        position = 0
        for name in wanted:
            header_end = batch.index(b"\n", position)
            header = batch[position:header_end].split()
            position = header_end + 1
            if header[-1] == b"missing":
                continue
            size = int(header[2])
            path = target / name.decode(errors="replace")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(batch[position : position + size])
            position += size + 1
        print(f"{repo['name']}: {len(wanted)} files at {repo['commit'][:10]}")


def run(corpus: Path, out: Path, select: str | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    previous = _load_run(out / "latest.json")
    results: dict[str, list[dict]] = {}
    for repo in repositories():
        folder = corpus / repo["name"]
        if not folder.is_dir():
            print(f"{repo['name']}: not in {corpus} (run `prepare`)", file=sys.stderr)
            continue
        command = [sys.executable, "-m", "exhort", "check", str(folder), "--format", "json",
                   "--exit-zero", "--no-progress", "--no-cache", "--min-severity", "hint",
                   *(["--select", select] if select else [])]
        completed = subprocess.run(command, capture_output=True, text=True, cwd=folder)
        try:
            findings = json.loads(completed.stdout or "[]")
        except json.JSONDecodeError:
            print(f"{repo['name']}: exhort failed:\n{completed.stderr[-2000:]}", file=sys.stderr)
            continue
        for finding in findings:
            finding["path"] = str((folder / finding["path"]).resolve().relative_to(folder.resolve()))
        results[repo["name"]] = findings
    if previous:
        (out / "previous.json").write_text(json.dumps(previous))
    (out / "latest.json").write_text(json.dumps(results))
    _print_table(results)
    if previous:
        _print_diff(previous, results)


def _load_run(path: Path) -> dict[str, list[dict]]:
    return json.loads(path.read_text()) if path.exists() else {}


def _print_table(results: dict[str, list[dict]]) -> None:
    repos = list(results)
    counts = {repo: collections.Counter(f["code"] for f in findings) for repo, findings in results.items()}
    codes = sorted({code for counter in counts.values() for code in counter})
    short = [r[:8] for r in repos]
    print("rule    " + " ".join(f"{s:>8}" for s in short) + "    total")
    for code in codes:
        row = [counts[repo][code] for repo in repos]
        print(f"{code:<8}" + " ".join(f"{n or '':>8}" for n in row) + f"{sum(row):>9}")
    totals = [sum(counts[repo].values()) for repo in repos]
    print(f"{'total':<8}" + " ".join(f"{n:>8}" for n in totals) + f"{sum(totals):>9}")


def _key(finding: dict) -> tuple:
    return (finding["code"], finding["path"], finding["line"], finding["message"])


def _print_diff(previous: dict[str, list[dict]], latest: dict[str, list[dict]]) -> None:
    print("\nchanges since the previous run:")
    changed = False
    for repo in sorted(set(previous) | set(latest)):
        before = collections.Counter(_key(f) for f in previous.get(repo, []))
        after = collections.Counter(_key(f) for f in latest.get(repo, []))
        for sign, keys in (("-", before - after), ("+", after - before)):
            for code, path, line, message in sorted(keys):
                changed = True
                print(f"{sign} {repo}/{path}:{line}: {code} {message[:110]}")
    if not changed:
        print("  none")


def _judged(code: str) -> list[dict]:
    path = JUDGED / f"{code}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_judged(code: str, entries: list[dict]) -> None:
    JUDGED.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries)
    (JUDGED / f"{code}.jsonl").write_text(text)


def _judged_key(entry: dict) -> tuple:
    return (entry["repo"], entry["path"], entry["line"], entry["code"], entry["message"])


def sample(code: str, out: Path, count: int, seed: int) -> None:
    latest = _load_run(out / "latest.json")
    pool = [
        {"repo": repo, "path": f["path"], "line": f["line"], "code": f["code"], "message": f["message"]}
        for repo, findings in sorted(latest.items())
        for f in findings
        if f["code"] == code
    ]
    kept = _judged(code)
    known = {_judged_key(entry) for entry in kept}
    fresh = [entry for entry in pool if _judged_key(entry) not in known]
    random.Random(seed).shuffle(fresh)
    for entry in fresh[: max(0, count - len(kept))]:
        kept.append({**entry, "verdict": "", "reason": ""})
    _write_judged(code, kept)
    print(f"{code}: {len(kept)} in the sample ({len(pool)} findings in the latest run)")


def show(code: str, corpus: Path, context: int) -> None:
    for index, entry in enumerate(_judged(code)):
        path = corpus / entry["repo"] / entry["path"]
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        print(f"\n[{index}] {entry['repo']}/{entry['path']}:{entry['line']}  {entry['verdict'] or '?'}  {entry['reason']}")
        print(f"    {entry['message']}")
        low, high = max(1, entry["line"] - context), min(len(lines), entry["line"] + context)
        for number in range(low, high + 1):
            mark = ">" if number == entry["line"] else " "
            print(f"  {mark}{number:5} {lines[number - 1]}")


def precision(codes: list[str], out: Path) -> None:
    """Per rule: the judged sample's precision; then which judged findings the latest run still
    reports, at any severity and as `exhort check` shows them by default (hints hidden)."""
    latest = _load_run(out / "latest.json")
    by_message: dict[tuple, str] = {}
    by_line: dict[tuple, str] = {}
    for repo, findings in latest.items():
        for f in findings:
            by_message.setdefault((repo, f["path"], f["code"], f["message"]), f.get("severity", ""))
            by_line.setdefault((repo, f["path"], f["line"], f["code"]), f.get("severity", ""))
    codes = codes or sorted(path.stem for path in JUDGED.glob("*.jsonl"))
    print(f"{'rule':<8}{'judged':>7}{'good':>6}{'prec':>6}   still reported, good / bad:"
          f"  any severity   shown by default   precision shown")
    for code in codes:
        entries = [e for e in _judged(code) if e.get("verdict") in VERDICTS]
        if not entries:
            continue
        good = [e for e in entries if e["verdict"] in GOOD_VERDICTS]
        bad = [e for e in entries if e["verdict"] not in GOOD_VERDICTS]

        def severity(entry: dict) -> str | None:
            # Messages can change with a rule while lines stay, and the other way: match either.
            return by_message.get((entry["repo"], entry["path"], entry["code"], entry["message"]),
                                  by_line.get((entry["repo"], entry["path"], entry["line"], entry["code"])))

        def kept(group: list[dict], shown_only: bool) -> int:
            return sum(1 for e in group if severity(e) is not None and not (shown_only and severity(e) == "hint"))

        shown_good, shown_bad = kept(good, True), kept(bad, True)
        shown_precision = f"{shown_good / (shown_good + shown_bad):.0%}" if shown_good + shown_bad else "-"
        print(f"{code:<8}{len(entries):>7}{len(good):>6}{len(good) / len(entries):>6.0%}"
              f"   {kept(good, False):>12}/{len(good)} / {kept(bad, False)}/{len(bad)}"
              f"   {shown_good:>8}/{len(good)} / {shown_bad}/{len(bad)}   {shown_precision:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--mirrors", type=Path, required=True)
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    r = sub.add_parser("run")
    r.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    r.add_argument("--out", type=Path, default=DEFAULT_OUT)
    r.add_argument("--select")
    s = sub.add_parser("sample")
    s.add_argument("code")
    s.add_argument("--count", type=int, default=30)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--out", type=Path, default=DEFAULT_OUT)
    w = sub.add_parser("show")
    w.add_argument("code")
    w.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    w.add_argument("--context", type=int, default=6)
    q = sub.add_parser("precision")
    q.add_argument("codes", nargs="*")
    q.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.mirrors, args.corpus)
    elif args.command == "run":
        run(args.corpus, args.out, args.select)
    elif args.command == "sample":
        sample(args.code, args.out, args.count, args.seed)
    elif args.command == "show":
        show(args.code, args.corpus, args.context)
    else:
        precision(args.codes, args.out)


if __name__ == "__main__":
    main()
