"""The `exhort` command: check, explain, rules, serve.

Exit codes of `exhort check`: 0 clean, 1 findings (or, with --diff, fixes to apply),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from .. import __version__
from ..baseline import Baseline, BaselineError, Entry, baseline_path, fingerprint
from ..cache import ResultCache, cache_folder_for
from ..changes import GitError, changed_lines
from ..config import ConfigError, validate_selectors
from ..findings import Severity
from ..suppression import UNUSED_SUPPRESSION
from ..registry import Registry, default_registry
from .markdown import render_markdown
from .reporters import TextReporter, display_path, write_github, write_json, write_sarif
from .progress import Progress
from .located import FileReport
from .runner import ConfigCache, RunOptions, Summary, WorkerFailed, check_paths, plural
from .triage import DEFAULT_MIN_SEVERITY, Triage

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 too; keep its message short
        self.print_usage(sys.stderr)
        sys.stderr.write(f"exhort: error: {message}\n")
        raise SystemExit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="exhort", description="Review Elixir code: OTP, Oban, LiveView and Ecto rules.")
    parser.add_argument("--version", action="version", version=f"exhort {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="check files and folders (default: .)",
        description="Check Elixir files (.ex, .exs, .heex) and report what the rules find.",
        epilog="Exit status: 0 clean, 1 findings (with --diff: fixes to apply), 2 usage or configuration "
        "error, a path that does not exist, or nothing checked.",
    )
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                       help="files or folders to check (default: the current folder); files named here "
                       "are checked even when the config excludes them")
    check.add_argument("--format", choices=["text", "json", "sarif", "github"], default="text",
                       help="output format: text for people, json, sarif 2.1.0, or github workflow "
                       "annotations (default: text)")
    check.add_argument("--select", type=_codes, metavar="CODES",
                       help="comma-separated codes or prefixes to run (replaces the config's select)")
    check.add_argument("--ignore", type=_codes, metavar="CODES",
                       help="comma-separated codes or prefixes to skip (added to the config's ignore)")
    check.add_argument("--min-severity", choices=["hint", "information", "warning", "error"],
                       default=DEFAULT_MIN_SEVERITY.label,
                       help="report findings of this severity and above, in every format (default: "
                       "information, so hints are counted but not shown; a rule named in --select is "
                       "shown at any severity)")
    check.add_argument("--baseline", metavar="FILE",
                       help="report only findings not accepted in FILE (a JSON file written by "
                       "--update-baseline); accepted findings that no longer occur are listed as fixed")
    check.add_argument("--update-baseline", action="store_true",
                       help="record every finding of the checked files in the --baseline FILE (entries of "
                       "files outside this run are kept), then report against it")
    check.add_argument("--diff-base", metavar="REF",
                       help="report only findings on lines changed since the merge-base of REF and HEAD "
                       "(committed, staged, unstaged and untracked changes), for pull-request checks")
    check.add_argument("--fix", action="store_true",
                       help="apply the safe fixes of the reported findings, then report what remains")
    check.add_argument("--diff", action="store_true", help="print safe fixes as a unified diff; write nothing")
    check.add_argument("--exit-zero", action="store_true",
                       help="exit 0 even when there are findings (usage errors still exit 2)")
    check.add_argument("--statistics", action="store_true", help="print counts per rule instead of each finding")
    check.add_argument("--report-unused-suppressions", action="store_true",
                       help="report suppression comments that silence nothing (EXH001)")
    check.add_argument("--no-cache", action="store_true",
                       help="neither read nor write the result cache (.exhort_cache/ in the project; "
                       "EXHORT_CACHE_DIR moves it)")
    check.add_argument("--verbose", "-v", action="store_true",
                       help="say on stderr how many files were checked, indexed and taken from the cache")
    check.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                       help="worker processes (default: all cores)")
    check.add_argument("--no-progress", action="store_true",
                       help="never show progress on stderr (shown on a terminal when a run takes a while)")
    check.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                       help="colour the text output: auto (on a terminal, unless NO_COLOR is set), "
                       "always or never")

    explain = commands.add_parser("explain", help="show a rule's explanation",
                                  description="Explain a rule: why it matters, bad and good code, fix safety.")
    explain.add_argument("code", metavar="CODE", help="a rule code (SEC001) or name (unsafe-atom-creation)")
    explain.add_argument("--format", choices=["text", "markdown"], default="text",
                         help="text for a terminal, or the Markdown it is written in (default: text)")
    explain.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                         help="colour the text: auto (on a terminal, unless NO_COLOR is set), always or never")

    clean = commands.add_parser("clean", help="remove the result cache (.exhort_cache)",
                                description="Remove the project's result cache folder, .exhort_cache.")
    clean.add_argument("folder", nargs="?", default=".", metavar="FOLDER",
                       help="a folder of the project (default: the current folder)")

    rules = commands.add_parser("rules", help="list every rule",
                                description="List every rule with its category, severity and fix safety.")
    rules.add_argument("--format", choices=["text", "json"], default="text",
                       help="a table, or JSON for tools (default: text)")

    commands.add_parser("serve", help="run the language server (stdio, or --tcp HOST:PORT)", add_help=False)
    return parser


def _codes(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["serve"]:  # the server parses its own options (--tcp, --log-level)
        from ..lsp import serve

        return serve(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        if args.command == "check":
            return run_check(args)
        if args.command == "explain":
            return run_explain(args.code, args.format, _colour(args.color, sys.stdout))
        if args.command == "rules":
            return run_rules(args.format)
        if args.command == "clean":
            return run_clean(Path(args.folder))
    except (ConfigError, UsageError, WorkerFailed) as error:
        sys.stderr.write(f"exhort: error: {error}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`exhort check | head`): stop quietly, as other Unix tools do.
        # Point stdout at /dev/null so the interpreter's final flush cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FINDINGS
    return EXIT_ERROR


def run_check(args: argparse.Namespace) -> int:
    registry = default_registry()
    if args.select:
        validate_selectors(args.select, registry, "--select")
    if args.ignore:
        validate_selectors(args.ignore, registry, "--ignore")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    # A path that does not exist is reported and the others are still checked (the run then
    # exits 2), so one wrong argument neither hides the findings of the rest nor passes.
    missing = [given for given in args.paths if not Path(given).exists()]
    for given in missing:
        sys.stderr.write(f"exhort: error: no such file or directory: {given}\n")
    paths = [Path(given) for given in args.paths if given not in missing]
    if not paths:
        return EXIT_ERROR

    def overrides(config):
        return config.with_overrides(select=args.select, extend_ignore=args.ignore)

    configs = ConfigCache(registry, overrides)
    # A rule asked for by name is shown whatever its severity: the user wants to see it.
    asked_for = {code for code in args.select or () if code.upper() in registry.by_code}
    asked_for |= {rule.code for rule in registry.rules if rule.name in (args.select or ())}
    if args.report_unused_suppressions:
        asked_for.add(UNUSED_SUPPRESSION.code)
    baseline, baseline_folder = _load_baseline(args)
    changes = None
    if args.diff_base is not None:
        try:
            changes = changed_lines(args.diff_base, os.getcwd())
        except GitError as error:
            raise UsageError(f"--diff-base: {error}") from None
    triage = Triage(Severity.parse(args.min_severity), frozenset(code.upper() for code in asked_for),
                    baseline, baseline_folder, changes)
    cache = None if args.no_cache else ResultCache(cache_folder_for(Path.cwd()))
    options = RunOptions(fix=args.fix, diff=args.diff, report_unused_suppressions=args.report_unused_suppressions,
                         triage=triage, cache=cache)
    started = time.monotonic()
    with Progress(enabled=not args.no_progress) as progress:
        reports, stats = check_paths(paths, configs, options, args.jobs, progress)
    if cache is not None and cache.write_error:
        sys.stderr.write(f"exhort: warning: the result cache could not be written ({cache.write_error})\n")
    if args.verbose:
        cached = f"; cache {cache.folder}" if cache is not None else "; no cache"
        sys.stderr.write(
            f"exhort: {plural(stats.checked_files, 'file')} to check: {stats.results_from_cache} from the cache, "
            f"{stats.checked_files - stats.results_from_cache} checked; "
            f"{plural(stats.indexed_files, 'file')} indexed: {stats.facts_from_cache} from the cache, "
            f"{stats.indexed_files - stats.facts_from_cache} read{cached}; {time.monotonic() - started:.2f} s\n")
    gone = _entries_of_deleted_files(baseline, baseline_folder, paths) if baseline is not None else []
    if args.update_baseline:
        assert baseline is not None
        triage = replace(triage, baseline=_update_baseline(Path(args.baseline), baseline, baseline_folder, reports,
                                                           gone))
        gone = []
    diff_base = f"{args.diff_base} (merge-base {changes.base[:10]})" if changes is not None else None
    summary = Summary.triage(reports, missing, triage, args.baseline, gone, diff_base)

    for report in sorted(reports, key=lambda r: r.path):
        if report.skipped is not None and args.format != "text":  # the text summary names them
            sys.stderr.write(f"exhort: skipped {display_path(report.path)}: {report.skipped.reason}\n")
        for failure in report.failures:
            sys.stderr.write(f"exhort: {display_path(report.path)}: {failure}\n")

    out = sys.stdout
    # A wrong path, nothing analysed, or a checker failure never passes.
    incomplete = bool(summary.missing) or summary.checked == 0 or summary.failed > 0
    if args.diff:
        diffs = [r.diff for r in sorted(reports, key=lambda r: r.path) if r.diff]
        out.write("".join(diffs))
        fixes = sum(r.fixed for r in reports)
        sys.stderr.write(f"{fixes} fix{'es' if fixes != 1 else ''} would be applied.\n")
        if incomplete:
            return EXIT_ERROR
        return EXIT_FINDINGS if diffs and not args.exit_zero else EXIT_CLEAN

    if args.fix:
        fixed = sum(r.fixed for r in reports)
        if fixed:
            sys.stderr.write(f"Fixed {fixed} problem{'s' if fixed != 1 else ''}.\n")

    if args.format == "json":
        write_json(out, reports, registry)
    elif args.format == "sarif":
        write_sarif(out, reports, registry, summary)
    elif args.format == "github":
        write_github(out, reports, registry, summary)
    else:
        TextReporter(out, registry, _colour(args.color, out)).write(reports, summary, args.statistics)
    if args.format != "text":  # the text summary says these; other formats keep stdout parseable
        if summary.checked == 0:
            sys.stderr.write(f"exhort: {summary.nothing_checked()}\n")
        for note in summary.notes():
            sys.stderr.write(f"exhort: {note}\n")

    if incomplete:
        return EXIT_ERROR
    found = any(r.findings for r in reports)
    return EXIT_FINDINGS if found and not args.exit_zero else EXIT_CLEAN


def _load_baseline(args: argparse.Namespace) -> tuple[Baseline | None, str]:
    if args.update_baseline and not args.baseline:
        raise UsageError("--update-baseline needs --baseline FILE")
    if not args.baseline:
        return None, ""
    file = Path(args.baseline)
    folder = str(file.resolve().parent)
    if args.update_baseline and not file.exists():
        return Baseline(), folder
    try:
        return Baseline.load(file), folder
    except BaselineError as error:
        raise UsageError(str(error)) from None


def _entries_of_deleted_files(baseline: Baseline, folder: str, paths: list[Path]) -> list[Entry]:
    """Accepted entries of files that no longer exist under the folders this run checked."""
    roots = [str(p.resolve()) for p in paths if p.is_dir()]
    gone = []
    for relative in baseline.paths():
        file = os.path.normpath(os.path.join(folder, relative))
        if not os.path.exists(file) and any(file.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
            gone.extend(baseline.matcher(relative).unmatched())
    return gone


def _update_baseline(file: Path, baseline: Baseline, folder: str, reports: list[FileReport],
                     gone: list[Entry]) -> Baseline:
    """Record every finding of the files read in this run; keep the entries of other files."""
    recorded = Baseline()
    for report in reports:
        if report.skipped is not None:
            continue
        path = baseline_path(report.absolute, folder)
        recorded.counts.setdefault(path, Counter())  # a file without findings drops its old entries
        for item in report.findings:
            assert item.identity is not None
            recorded.add(Entry(path, item.finding.code, item.identity.context,
                               fingerprint(item.finding.code, path, item.identity)))
    updated = baseline.without({entry.path for entry in gone}).merged(recorded)
    updated.counts = {path: counts for path, counts in updated.counts.items() if counts}
    try:
        updated.save(file)
    except OSError as error:
        raise UsageError(f"cannot write baseline {file}: {error.strerror or error}") from None
    sys.stderr.write(f"Recorded {plural(len(updated), 'finding')} in {file}.\n")
    return updated


def run_explain(code: str, output_format: str, colour: bool) -> int:
    registry = default_registry()
    rule = registry.by_code.get(code.upper()) or next((r for r in registry.rules if r.name == code), None)
    if rule is None:
        options = [r.code for r in registry.rules] + [r.name for r in registry.rules]
        close = difflib.get_close_matches(code.upper(), options, n=1, cutoff=0.5) or difflib.get_close_matches(
            code, options, n=1, cutoff=0.5
        )
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(f"unknown rule {code!r}{hint}")
    markdown = (
        f"{rule.explanation_markdown}\nCategory: {rule.category} · default severity: {rule.severity.label} · "
        f"fix: {rule.fix_safety}\n"
    )
    sys.stdout.write(markdown if output_format == "markdown" else render_markdown(markdown, colour))
    return EXIT_CLEAN


def _colour(choice: str, stream) -> bool:
    return choice == "always" or (choice == "auto" and stream.isatty() and not os.environ.get("NO_COLOR"))


def run_clean(folder: Path) -> int:
    cache = ResultCache(cache_folder_for(folder))
    relative = os.path.relpath(cache.folder)
    shown = relative if not relative.startswith("..") else str(cache.folder)
    if cache.clean():
        sys.stdout.write(f"Removed {shown}.\n")
    else:
        sys.stdout.write(f"No cache to remove at {shown}.\n")
    return EXIT_CLEAN


def run_rules(output_format: str) -> int:
    registry: Registry = default_registry()
    if output_format == "json":
        json.dump(
            [
                {
                    "code": r.code,
                    "name": r.name,
                    "category": r.category,
                    "severity": r.severity.label,
                    "summary": r.summary,
                    "fix": r.fix_safety,
                    "workspace": r.workspace,
                }
                for r in registry.rules
            ],
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return EXIT_CLEAN
    width = max(len(r.name) for r in registry.rules)
    sys.stdout.write(f"{'CODE':<8}{'NAME':<{width + 2}}{'CATEGORY':<13}{'SEVERITY':<13}FIX\n")
    for r in registry.rules:
        sys.stdout.write(f"{r.code:<8}{r.name:<{width + 2}}{r.category:<13}{r.severity.label:<13}{r.fix_safety}\n")
    return EXIT_CLEAN


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
