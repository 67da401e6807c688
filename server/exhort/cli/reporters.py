"""Output formats of `exhort check`: text, json, sarif and github."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from urllib.parse import quote
from typing import TextIO

from .. import REPOSITORY_URL, __version__, rule_docs_url
from ..findings import Severity
from ..registry import Registry
from .located import FileReport, Located
from .runner import Summary, plural, severity_count

SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFORMATION: "note", Severity.HINT: "note"}
GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFORMATION: "notice", Severity.HINT: "notice"}
SOURCE_ROOT = "%SRCROOT%"  # SARIF's conventional base of relative URIs: the folder exhort ran in
COLOUR = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFORMATION: "36", Severity.HINT: "2"}


def display_path(path: str, like: str | None = None) -> str:
    """A path the way the user named the file it belongs to: an absolute argument is printed
    as given, a relative one relative to the current folder. `like` is that file's path, for
    the other paths of its findings (related locations, edits of other files), which the
    engine keeps absolute."""
    if os.path.isabs(like if like is not None else path):
        return os.path.abspath(path)
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows): no relative path exists
        return path


def _items(reports: list[FileReport]):
    for report in sorted(reports, key=lambda r: r.path):
        for item in report.findings:
            yield report, item


class TextReporter:
    def __init__(self, out: TextIO, registry: Registry, colour: bool) -> None:
        self.out, self.registry, self.colour = out, registry, colour

    def paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def write(self, reports: list[FileReport], summary: Summary, statistics: bool) -> None:
        counts: Counter[Severity] = Counter()
        fixable = 0
        for report, item in _items(reports):
            finding = item.finding
            counts[finding.severity] += 1
            fixable += finding.safe_fix is not None
            if statistics:
                continue
            # `path:line:col: severity: CODE message`, the shape compilers print, so the severity
            # survives logs and pipes and editors' error parsers (Emacs compile, Vim) read it
            where = self.paint("1", f"{display_path(report.path)}:{item.line}:{item.column}:")
            severity = self.paint(COLOUR[finding.severity], f"{finding.severity.label}:")
            marker = self.paint("2", " [*]") if finding.safe_fix is not None else ""
            self.out.write(f"{where} {severity} {self.paint('1', finding.code)}{marker} {finding.message}\n")
            self._snippet(item)
            for path, line, column, message in item.related:
                note = f"note: {display_path(path, report.path)}:{line}:{column}:"
                self.out.write(f"    {self.paint('2', note)} {message}\n")
        if statistics:
            self._statistics(reports)
        total = sum(counts.values())
        checked = plural(summary.checked, "file")
        if summary.checked == 0:
            self.out.write(f"{summary.nothing_checked().capitalize()}.\n")
        elif total == 0 and summary.failed:
            self.out.write(f"No problems found in what could be checked ({checked} checked).\n")
        elif total == 0:
            self.out.write(f"All checks passed ({checked} checked).\n")
        else:
            parts = [severity_count(counts[s], s) for s in Severity if counts[s]]
            with_findings = plural(sum(1 for r in reports if r.findings), "file")
            self.out.write(f"Found {plural(total, 'problem')} ({', '.join(parts)}) in {with_findings}; "
                           f"{checked} checked.\n")
        if fixable:
            self.out.write(f"[*] {fixable} fixable with `exhort check --fix`.\n")
        for note in summary.notes():
            self.out.write(note + "\n")
        if summary.skipped:
            names = "; ".join(f"{display_path(item.path)}: {item.reason}" for item in summary.skipped)
            self.out.write(f"Skipped {plural(len(summary.skipped), 'file')}, not checked: {names}.\n")
        if summary.missing:
            self.out.write(f"Not found: {', '.join(summary.missing)}.\n")

    def _snippet(self, item: Located) -> None:
        line = item.source_line.expandtabs(4) if "\t" not in item.source_line else item.source_line
        gutter = f"{item.line:>5} | "
        self.out.write(self.paint("2", gutter) + line + "\n")
        width = (item.end_column - item.column) if item.end_line == item.line else max(len(line) - item.column + 1, 1)
        caret = " " * (item.column - 1) + "^" + "~" * max(width - 1, 0)
        self.out.write(" " * (len(gutter) - 2) + self.paint("2", "| ") + self.paint(COLOUR[item.finding.severity], caret) + "\n")

    def _statistics(self, reports: list[FileReport]) -> None:
        per_code: Counter[str] = Counter()
        per_code_fixable: Counter[str] = Counter()
        for _report, item in _items(reports):
            per_code[item.finding.code] += 1
            per_code_fixable[item.finding.code] += item.finding.safe_fix is not None
        for code, count in sorted(per_code.items(), key=lambda kv: (-kv[1], kv[0])):
            rule = self.registry.by_code.get(code)
            name = rule.name if rule else ""
            fixable = " [*]" if per_code_fixable[code] else ""
            self.out.write(f"{count:>6}  {code:<7} {name}{fixable}\n")


def write_json(out: TextIO, reports: list[FileReport], registry: Registry) -> None:
    items = []
    for report, item in _items(reports):
        finding = item.finding
        rule = registry.by_code.get(finding.code)
        fix = None
        if finding.fixes:
            fix = {
                "applicability": "safe" if finding.fixes[0].safe and finding.fixes[0].in_document else "unsafe",
                "message": finding.fixes[0].title,
                "edits": [
                    {**e, "path": display_path(e["path"], report.path)} if "path" in e else e
                    for e in item.fix_edits or []
                ],
            }
        items.append(
            {
                "code": finding.code,
                "name": rule.name if rule else None,
                "severity": finding.severity.label,
                "message": finding.message,
                "path": display_path(report.path),
                "line": item.line,
                "column": item.column,
                "end_line": item.end_line,
                "end_column": item.end_column,
                "fix": fix,
                "related": [
                    {"path": display_path(p, report.path), "line": line, "column": column, "message": message}
                    for p, line, column, message in item.related
                ],
            }
        )
    json.dump(items, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _edits_by_file(own_path: str, edits: list[dict]) -> dict[str, list[dict]]:
    """A fix's edits grouped by the file they change (an edit with a `path` is in that file)."""
    grouped: dict[str, list[dict]] = {}
    for edit in edits:
        grouped.setdefault(edit.get("path", own_path), []).append(edit)
    return grouped


def write_sarif(out: TextIO, reports: list[FileReport], registry: Registry, summary: Summary) -> None:
    rules = registry.rules
    index = {rule.code: number for number, rule in enumerate(rules)}
    results = []
    for report, item in _items(reports):
        finding = item.finding
        result = {
            "ruleId": finding.code,
            "ruleIndex": index.get(finding.code, 0),
            "level": SARIF_LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [_sarif_location(report.path, report.path, item.line, item.column, item.end_line,
                                          item.end_column)],
        }
        if item.related:
            result["relatedLocations"] = [
                {**_sarif_location(path, report.path, line, column, line, column), "id": number,
                 "message": {"text": message}}
                for number, (path, line, column, message) in enumerate(item.related)
            ]
        if finding.fixes and item.fix_edits:
            result["fixes"] = [
                {
                    "description": {"text": finding.fixes[0].title},
                    "artifactChanges": [
                        {
                            "artifactLocation": _artifact(path, report.path),
                            "replacements": [
                                {
                                    "deletedRegion": {
                                        "startLine": e["line"], "startColumn": e["column"],
                                        "endLine": e["end_line"], "endColumn": e["end_column"],
                                    },
                                    "insertedContent": {"text": e["content"]},
                                }
                                for e in edits
                            ],
                        }
                        for path, edits in _edits_by_file(report.path, item.fix_edits).items()
                    ],
                }
            ]
        results.append(result)
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "exhort",
                        "version": __version__,
                        "informationUri": REPOSITORY_URL,
                        "rules": [
                            {
                                "id": rule.code,
                                "name": rule.name,
                                "shortDescription": {"text": rule.summary},
                                "fullDescription": {"text": rule.summary},
                                "help": {"text": rule.explanation_markdown, "markdown": rule.explanation_markdown},
                                "helpUri": rule_docs_url(rule.code),
                                "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
                                "properties": {"category": rule.category, "tags": [rule.category]},
                            }
                            for rule in rules
                        ],
                    }
                },
                "originalUriBaseIds": {SOURCE_ROOT: {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
                "columnKind": "unicodeCodePoints",
                "invocations": [_sarif_invocation(summary)],
                "results": results,
            }
        ],
    }
    json.dump(sarif, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _sarif_invocation(summary: Summary) -> dict:
    """Files not analysed and paths not found, as the tool's notifications: a reader of the
    SARIF file alone must see that the run did not cover everything it was given."""
    notifications = [
        {"level": "warning", "message": {"text": f"Not checked: {item.reason}"},
         "locations": [{"physicalLocation": {"artifactLocation": _artifact(item.path, item.path)}}]}
        for item in summary.skipped
    ]
    notifications += [
        {"level": "error", "message": {"text": f"No such file or directory: {given}"}} for given in summary.missing
    ]
    if summary.checked == 0:
        notifications.append({"level": "error", "message": {"text": summary.nothing_checked().capitalize()}})
    return {
        "executionSuccessful": not summary.missing and summary.checked > 0,
        "toolExecutionNotifications": notifications,
    }


def _sarif_location(path: str, like: str, line: int, column: int, end_line: int, end_column: int) -> dict:
    return {
        "physicalLocation": {
            "artifactLocation": _artifact(path, like),
            "region": {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column},
        }
    }


def _artifact(path: str, like: str) -> dict:
    """A SARIF artifactLocation of the same kind as the argument that named the file: a file://
    URI for an absolute one, else a path relative to the current folder (SOURCE_ROOT)."""
    shown = display_path(path, like)
    if os.path.isabs(shown):
        return {"uri": Path(shown).as_uri()}
    return {"uri": quote(shown.replace(os.sep, "/")), "uriBaseId": SOURCE_ROOT}


def write_github(out: TextIO, reports: list[FileReport], registry: Registry, summary: Summary) -> None:
    for item in summary.skipped:
        out.write(f"::warning file={_github_escape(display_path(item.path))},title=exhort::"
                  f"Not checked: {_github_message(item.reason)}\n")
    for given in summary.missing:
        out.write(f"::error title=exhort::No such file or directory: {_github_message(given)}\n")
    for report, item in _items(reports):
        finding = item.finding
        rule = registry.by_code.get(finding.code)
        title = f"{finding.code} {rule.name}" if rule else finding.code
        message = _github_message(finding.message)
        properties = (
            f"file={_github_escape(display_path(report.path))},line={item.line},col={item.column},"
            f"endLine={item.end_line},endColumn={item.end_column},title={_github_escape(title)}"
        )
        out.write(f"::{GITHUB_LEVEL[finding.severity]} {properties}::{message}\n")


def _github_message(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_escape(value: str) -> str:
    """A property value (file=, title=) also escapes the separators of the property list."""
    return _github_message(value).replace(":", "%3A").replace(",", "%2C")
