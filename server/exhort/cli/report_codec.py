"""A file's findings as plain JSON, to keep them in the result cache and read them back."""

from __future__ import annotations

from ..baseline import Identity
from ..findings import Edit, Finding, Fix, Related, Severity
from .located import Located


def encode_findings(findings: list[Located]) -> list[dict]:
    return [_encode(item) for item in findings]


def decode_findings(data: list[dict]) -> list[Located]:
    return [_decode(item) for item in data]


def _encode(item: Located) -> dict:
    finding = item.finding
    return {
        "code": finding.code,
        "severity": int(finding.severity),
        "start": finding.start,
        "end": finding.end,
        "message": finding.message,
        "deprecated": finding.deprecated,
        "unnecessary": finding.unnecessary,
        "related": [[r.start, r.end, r.message, r.path] for r in finding.related],
        "fixes": [[fix.title, fix.safe, [[e.start, e.end, e.text, e.path] for e in fix.edits]]
                  for fix in finding.fixes],
        "at": [item.line, item.column, item.end_line, item.end_column],
        "source_line": item.source_line,
        "related_at": [list(entry) for entry in item.related],
        "fix_edits": item.fix_edits,
        "identity": [item.identity.context, item.identity.text_digest] if item.identity else None,
    }


def _decode(data: dict) -> Located:
    finding = Finding(
        data["code"],
        Severity(data["severity"]),
        data["start"],
        data["end"],
        data["message"],
        related=tuple(Related(start, end, message, path) for start, end, message, path in data["related"]),
        fixes=tuple(
            Fix(title, tuple(Edit(start, end, text, path) for start, end, text, path in edits), safe)
            for title, safe, edits in data["fixes"]
        ),
        deprecated=data["deprecated"],
        unnecessary=data["unnecessary"],
    )
    line, column, end_line, end_column = data["at"]
    identity = Identity(*data["identity"]) if data["identity"] else None
    related = [(path, r_line, r_column, message) for path, r_line, r_column, message in data["related_at"]]
    return Located(finding, line, column, end_line, end_column, data["source_line"], related, data["fix_edits"],
                   identity)
