"""Suppression comments.

    # exhort:disable-next-line CODE[, CODE]     the next code line
    foo()  # exhort:disable-line CODE          this line
    # exhort:disable-file CODE                 the whole file
    <%!-- exhort:disable-next-line CODE --%>   HEEx, in ~H sigils and .heex files

Without codes a comment silences every rule. A code may be a prefix ("OBN", "LV0"). A
suppression whose codes silence nothing is reported as EXH001 unused-suppression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .document import Document
from .findings import Edit, Finding, Fix, Severity
from .rule import Rule, bad, good

_ELIXIR_COMMENT = re.compile(rb"#[ \t]*exhort:(disable-next-line|disable-line|disable-file)\b([^\r\n]*)")
_HEEX_COMMENT = re.compile(rb"<%!--[ \t]*exhort:(disable-next-line|disable-line|disable-file)\b(.*?)--%>", re.S)
_CODE = re.compile(r"[A-Za-z]+[0-9]*")

UNUSED_SUPPRESSION = Rule(
    code="EXH001",
    name="unused-suppression",
    category="exhort",
    severity=Severity.HINT,
    summary="A suppression comment that silences nothing",
    fix_safety="safe",
    explanation="""
        ## EXH001 unused-suppression

        An `exhort:disable-…` comment that silences no finding. Either the code below it was
        fixed, the rule code is misspelt, or the comment sits on the wrong line. Stale
        suppressions hide the next real finding on that line, so remove them.

        The CLI reports this only with `--report-unused-suppressions`; the language server
        shows it as a faded hint.

        **Bad**

        ```elixir
        # exhort:disable-next-line SEC001
        status = String.to_existing_atom(value)
        ```

        **Good**: no comment.

        **Fix** (safe): delete the comment.
    """,
    examples=[
        bad(
            """
            def f(items) do
              # exhort:disable-next-line PRF001  # expect: EXH001
              items == []
            end
            """,
            fixed="""
            def f(items) do
              items == []
            end
            """,
        ),
        good(
            """
            def f(items) do
              # exhort:disable-next-line PRF001
              length(items) == 0
            end
            """
        ),
    ],
)
UNUSED_SUPPRESSION.pack = "exhort"


@dataclass
class Suppression:
    kind: str  # disable-next-line, disable-line, disable-file
    codes: tuple[str, ...]  # empty: every rule
    start: int  # the comment's byte range
    end: int
    line: int  # the line it applies to (-1 for the whole file)
    comment_line: int
    used: set[str]

    def covers(self, code: str) -> str | None:
        """The entry of `codes` that matches `code` ("" when the comment names no codes)."""
        if not self.codes:
            return ""
        for entry in self.codes:
            if code == entry or code.startswith(entry):
                return entry
        return None


def find_suppressions(document: Document) -> list[Suppression]:
    data = document.data
    if not document.contains(b"exhort:"):
        return []
    found: list[Suppression] = []
    patterns = [_HEEX_COMMENT] if document.language == "heex" else [_ELIXIR_COMMENT, _HEEX_COMMENT]
    for pattern in patterns:
        for match in pattern.finditer(data):
            if not _is_real_comment(document, match.start(), pattern is _HEEX_COMMENT):
                continue
            kind = match.group(1).decode()
            rest = match.group(2).decode("utf-8", errors="replace")
            rest = rest.split("#", 1)[0]  # a second comment after the codes
            codes = tuple(code.upper() for code in _CODE.findall(rest))
            comment_line = document.lines.line_of(match.start())
            end = match.end()
            found.append(Suppression(kind, codes, match.start(), end, -1, comment_line, set()))
    next_line_targets(document, found)
    return found


def next_line_targets(document: Document, suppressions: list[Suppression]) -> None:
    comment_lines = {s.comment_line for s in suppressions if s.kind == "disable-next-line"}
    for item in suppressions:
        if item.kind == "disable-line":
            item.line = item.comment_line
        elif item.kind == "disable-next-line":
            line = item.comment_line + 1
            while line in comment_lines:  # stacked disable-next-line comments
                line += 1
            item.line = line


def _is_real_comment(document: Document, offset: int, heex: bool) -> bool:
    if document.tree is None:  # a .heex template: no Elixir tree to consult
        return True
    node = document.tree.root_node.descendant_for_byte_range(offset, offset + 1)
    if node is None:
        return False
    if not heex:
        return node.type == "comment"
    # a HEEx comment counts only inside a ~H sigil
    while node is not None and node.type != "sigil":
        node = node.parent
    if node is None:
        return False
    name = next((c for c in node.named_children if c.type == "sigil_name"), None)
    return name is not None and name.text in (b"H", b"LVN")


def apply_suppressions(
    document: Document,
    findings: list[Finding],
    enabled: set[str],
    report_unused: bool,
    known: Iterable[str],
) -> list[Finding]:
    """The findings no suppression comment silences, plus EXH001 for the comments that
    silence nothing when `report_unused`; `known` are the codes of every rule (a comment
    naming none of them names an unknown rule)."""
    suppressions = find_suppressions(document)
    if not suppressions:
        return findings
    kept: list[Finding] = []
    by_line: dict[int, list[Suppression]] = {}
    whole_file = [s for s in suppressions if s.kind == "disable-file"]
    for item in suppressions:
        if item.line >= 0:
            by_line.setdefault(item.line, []).append(item)
    for finding in findings:
        line = document.lines.line_of(finding.start)
        silenced = False
        for item in by_line.get(line, []) + whole_file:
            entry = item.covers(finding.code)
            if entry is not None:
                item.used.add(entry)
                silenced = True
        if not silenced:
            kept.append(finding)
    if report_unused and UNUSED_SUPPRESSION.code in enabled:
        kept.extend(_unused(document, suppressions, enabled, tuple(known)))
    return kept


def _unused(document: Document, suppressions: list[Suppression], enabled: set[str], known: tuple[str, ...]) -> list[Finding]:
    out = []
    for item in suppressions:
        if not item.codes:
            if item.used:
                continue
            stale = ["all rules"]
        else:
            stale = [
                code
                for code in item.codes
                if code not in item.used and any(e == code or e.startswith(code) for e in enabled)
            ]
            unknown = [code for code in item.codes if not any(e.startswith(code) for e in known)]
            stale += [f"{code} (unknown rule)" for code in unknown if code not in stale]
            if not stale:
                continue
        out.append(
            Finding(
                code=UNUSED_SUPPRESSION.code,
                severity=UNUSED_SUPPRESSION.severity,
                start=item.start,
                end=item.end,
                message=f"Unused suppression: {', '.join(stale)} reported nothing here",
                fixes=(Fix("Remove unused suppression", (_removal(document, item),), True),)
                if len(stale) == max(len(item.codes), 1)
                else (),
                unnecessary=True,
            )
        )
    return out


def _removal(document: Document, item: Suppression) -> Edit:
    """Delete the comment; delete its whole line when nothing else is on it."""
    lines = document.lines
    line_start = lines.start(item.comment_line)
    line_end = lines.line_end(item.comment_line)
    before = document.data[line_start : item.start]
    after = document.data[item.end : line_end]
    if not before.strip() and not after.strip():
        next_start = lines.start(item.comment_line + 1) if item.comment_line + 1 < lines.line_count else line_end
        return Edit(line_start, next_start, "")
    start = item.start - (len(before) - len(before.rstrip()))
    return Edit(start, item.end, "")


def suppression_at(document: Document, offset: int) -> Suppression | None:
    """The suppression comment covering `offset` (for hovers)."""
    for item in find_suppressions(document):
        if item.start <= offset <= item.end:
            return item
    return None
