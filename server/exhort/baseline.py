"""Baselines: the findings a team has accepted, so that only new ones are reported.

A finding is recognised again by its fingerprint, built from what survives unrelated edits:

- the rule code,
- the file's path relative to the baseline file's folder (POSIX separators),
- where it sits: the enclosing module and function (`App.Stats.parse/1`), not the line,
- the flagged text without its whitespace, so reformatting does not matter (the first line
  of a multi-line span: a long flagged call stays the same finding when its body is edited).

Identical findings in one function (the same call twice) share a fingerprint; the baseline
counts them, so removing one of two leaves one accepted and reports the other as fixed.

The file holds fingerprints and readable labels (path, code, context), never the flagged
text: the text of a hard-coded secret must not be copied into a committed file.

Used by `exhort check --baseline`; the language server can use the same calls to show
baselined findings differently: `identify` per finding, then `Baseline.matcher(path)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .document import Document
from .findings import Finding, Severity
from .syntax import full_module_name, function_def, is_defmodule

FORMAT_VERSION = 1
_SPACE = re.compile(r"\s+")


class BaselineError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Identity:
    """What a finding is, apart from its rule code and file: computed from the document."""

    context: str  # "App.Stats.parse/1", "App.Stats", or "" at the top level of a file
    text_digest: str  # digest of the normalised flagged text


def identify(document: Document, finding: Finding) -> Identity:
    return Identity(_context(document, finding.start), _digest(_normalised_text(document, finding)))


def fingerprint(code: str, path: str, identity: Identity) -> str:
    """`path` is relative to the baseline file's folder, with "/" separators."""
    key = "\0".join((code, path, identity.context, identity.text_digest))
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()[:24]


def baseline_path(file: str, baseline_folder: str) -> str:
    """The path a baseline records for `file` (both absolute): relative to the baseline's folder."""
    try:
        relative = os.path.relpath(file, baseline_folder)
    except ValueError:  # another drive
        relative = file
    return relative.replace(os.sep, "/")


def _normalised_text(document: Document, finding: Finding) -> str:
    text = document.data[finding.start : finding.end].decode("utf-8", errors="replace")
    first_line = text.split("\n", 1)[0]
    return _SPACE.sub("", first_line)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]


def _context(document: Document, offset: int) -> str:
    if document.tree is None:
        return ""
    node = document.tree.root_node.descendant_for_byte_range(offset, offset)
    function = module = None
    while node is not None:
        if node.type == "call":
            if function is None:
                definition = function_def(node)
                if definition is not None:
                    function = f"{definition.name}/{definition.arity}"
            if is_defmodule(node):
                module = full_module_name(node) or "?"
                break
        node = node.parent
    if module and function:
        return f"{module}.{function}"
    return module or function or ""


@dataclass(frozen=True)
class Entry:
    path: str
    code: str
    context: str
    fingerprint: str


@dataclass
class Baseline:
    """Accepted findings: path -> fingerprint -> how many, with a label per fingerprint."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # fingerprint -> (code, context)

    def add(self, entry: Entry) -> None:
        self.counts.setdefault(entry.path, Counter())[entry.fingerprint] += 1
        self.labels[entry.fingerprint] = (entry.code, entry.context)

    def __len__(self) -> int:
        return sum(sum(counts.values()) for counts in self.counts.values())

    def paths(self) -> list[str]:
        return sorted(self.counts)

    def matcher(self, path: str) -> "Matcher":
        return Matcher(self, path)

    def without(self, paths: set[str]) -> "Baseline":
        """This baseline minus the entries of `paths` (the files a new run has re-recorded)."""
        kept = Baseline()
        for path, counts in self.counts.items():
            if path not in paths:
                kept.counts[path] = Counter(counts)
                kept.labels.update({fp: self.labels[fp] for fp in counts})
        return kept

    def merged(self, other: "Baseline") -> "Baseline":
        merged = self.without(set(other.counts))
        for path, counts in other.counts.items():
            merged.counts[path] = Counter(counts)
            merged.labels.update({fp: other.labels[fp] for fp in counts})
        return merged

    # -- the file ----------------------------------------------------------------------------

    @classmethod
    def load(cls, file: Path) -> "Baseline":
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BaselineError(f"baseline file not found: {file} (create it with --update-baseline)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BaselineError(f"cannot read baseline {file}: {error}") from None
        if not isinstance(data, dict) or data.get("exhort_baseline") != FORMAT_VERSION:
            raise BaselineError(f"{file} is not an Exhort baseline (version {FORMAT_VERSION})")
        baseline = cls()
        for item in data.get("findings", []):
            try:
                entry = Entry(str(item["path"]), str(item["code"]), str(item.get("context", "")),
                              str(item["fingerprint"]))
                count = int(item.get("count", 1))
            except (KeyError, TypeError, ValueError):
                raise BaselineError(f"{file}: malformed entry {item!r}") from None
            for _ in range(max(count, 0)):
                baseline.add(entry)
        return baseline

    def dumps(self) -> str:
        findings = [
            {"path": path, "code": self.labels[fp][0], "context": self.labels[fp][1], "fingerprint": fp,
             "count": count}
            for path, counts in self.counts.items()
            for fp, count in counts.items()
        ]
        findings.sort(key=lambda item: (item["path"], item["code"], item["context"], item["fingerprint"]))
        document = {"exhort_baseline": FORMAT_VERSION, "findings": findings}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    def save(self, file: Path) -> None:
        temporary = file.with_name(file.name + ".tmp")
        temporary.write_text(self.dumps(), encoding="utf-8")
        os.replace(temporary, file)  # never a half-written baseline


class Matcher:
    """Matches one file's findings against its accepted entries, each entry used once."""

    def __init__(self, baseline: Baseline, path: str) -> None:
        self.baseline = baseline
        self.path = path
        self.left = Counter(baseline.counts.get(path, ()))

    def accepts(self, fingerprint_: str) -> bool:
        if self.left[fingerprint_] > 0:
            self.left[fingerprint_] -= 1
            return True
        return False

    def unmatched(self) -> list[Entry]:
        """Accepted entries no finding matched: fixed since the baseline was recorded."""
        entries = []
        for fp, count in sorted(self.left.items()):
            code, context = self.baseline.labels[fp]
            entries.extend(Entry(self.path, code, context, fp) for _ in range(count))
        return entries


BASELINED_SHOWN = ("hint", "hidden")


def shown_against(baseline: Baseline, baseline_folder: str, document: Document, findings: list[Finding],
                  show: str = "hint") -> list[Finding]:
    """The findings of `document` as an editor shows them against a baseline: the accepted
    ones faded to hints ("hint") or left out ("hidden"); new ones as they are."""
    path = baseline_path(document.path, baseline_folder)
    if path not in baseline.counts:
        return findings
    matcher = baseline.matcher(path)
    shown = []
    for finding in findings:
        if matcher.accepts(fingerprint(finding.code, path, identify(document, finding))):
            if show == "hidden":
                continue
            finding = finding.with_severity(Severity.HINT)
        shown.append(finding)
    return shown
