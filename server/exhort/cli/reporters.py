"""Output formats of `exhort check`: text, json, sarif and github."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import TextIO

from .. import REPOSITORY_URL, __version__, rule_docs_url
from ..findings import Severity
from ..registry import Registry
from .runner import FileReport, Located

SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFORMATION: "note", Severity.HINT: "note"}
GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFORMATION: "notice", Severity.HINT: "notice"}
COLOUR = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFORMATION: "36", Severity.HINT: "2"}


def display_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
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

    def write(self, reports: list[FileReport], files: int, statistics: bool) -> None:
        counts: Counter[Severity] = Counter()
        fixable = 0
        for report, item in _items(reports):
            finding = item.finding
            counts[finding.severity] += 1
            fixable += finding.safe_fix is not None
            if statistics:
                continue
            where = self.paint("1", f"{display_path(report.path)}:{item.line}:{item.column}:")
            code = self.paint(COLOUR[finding.severity], finding.code)
            marker = self.paint("2", " [*]") if finding.safe_fix is not None else ""
            self.out.write(f"{where} {code}{marker} {finding.message}\n")
            self._snippet(item)
            for path, line, column, message in item.related:
                self.out.write(f"    {self.paint('2', f'note: {display_path(path)}:{line}:{column}:')} {message}\n")
        if statistics:
            self._statistics(reports)
        total = sum(counts.values())
        if total == 0:
            self.out.write(f"All checks passed ({files} file{'s' if files != 1 else ''} checked).\n")
            return
        parts = [f"{counts[s]} {s.label}{'s' if counts[s] != 1 and s != Severity.INFORMATION else ''}"
                 for s in Severity if counts[s]]
        self.out.write(f"Found {total} problem{'s' if total != 1 else ''} ({', '.join(parts)}) in {files} files.\n")
        if fixable:
            self.out.write(f"[*] {fixable} fixable with `exhort check --fix`.\n")

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
                    {**e, "path": display_path(e["path"])} if "path" in e else e for e in item.fix_edits or []
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
                    {"path": display_path(p), "line": line, "column": column, "message": message}
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


def write_sarif(out: TextIO, reports: list[FileReport], registry: Registry) -> None:
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
            "locations": [_sarif_location(report.path, item.line, item.column, item.end_line, item.end_column)],
        }
        if item.related:
            result["relatedLocations"] = [
                {**_sarif_location(path, line, column, line, column), "id": number, "message": {"text": message}}
                for number, (path, line, column, message) in enumerate(item.related)
            ]
        if finding.fixes and item.fix_edits:
            result["fixes"] = [
                {
                    "description": {"text": finding.fixes[0].title},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": Path(path).resolve().as_uri()},
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
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    json.dump(sarif, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _sarif_location(path: str, line: int, column: int, end_line: int, end_column: int) -> dict:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _relative_uri(path)},
            "region": {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column},
        }
    }


def _relative_uri(path: str) -> str:
    relative = display_path(path)
    return relative.replace(os.sep, "/") if not relative.startswith("..") else Path(path).resolve().as_uri()


def write_github(out: TextIO, reports: list[FileReport], registry: Registry) -> None:
    for report, item in _items(reports):
        finding = item.finding
        rule = registry.by_code.get(finding.code)
        title = f"{finding.code} {rule.name}" if rule else finding.code
        message = finding.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        properties = (
            f"file={_github_escape(display_path(report.path))},line={item.line},col={item.column},"
            f"endLine={item.end_line},endColumn={item.end_column},title={_github_escape(title)}"
        )
        out.write(f"::{GITHUB_LEVEL[finding.severity]} {properties}::{message}\n")


def _github_escape(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace(":", "%3A").replace(",", "%2C")
