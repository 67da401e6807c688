"""Hover and code actions: what the editor shows about the findings under the cursor.

Plain functions of the server's state (the open document with its findings, the engine in
force for it, the workspace index); the handlers in server.py call them once the document
is checked.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..document import Document
from ..findings import Finding
from ..project import ProjectPath
from ..registry import discover_hover_providers
from ..rule import Context
from ..suppression import UNUSED_SUPPRESSION, suppression_at
from . import convert
from .documents import OpenDocument

if TYPE_CHECKING:
    from .server import ExhortServer

logger = logging.getLogger("exhort.lsp")

FIX_ALL_KIND = "source.fixAll.exhort"
_hover_providers: list | None = None


def hover_markdown(ls: "ExhortServer", item: OpenDocument, offset: int) -> tuple[str, tuple[int, int]] | None:
    document = item.document
    covering = [f for f in item.findings if f.start <= offset <= f.end and f.code != UNUSED_SUPPRESSION.code]
    suppression = suppression_at(document, offset)
    if suppression is not None:
        return _suppression_hover(ls, item, suppression), (suppression.start, suppression.end)
    parts: list[str] = []
    span: tuple[int, int] | None = None
    engine = ls.configs.engine_for(item.path)
    if covering:
        for finding in covering:
            rule = engine.rule(finding.code)
            parts.append(f"**{finding.code}**: {finding.message}")
            if rule is not None:
                parts.append(rule.explanation_markdown)
        span = (min(f.start for f in covering), max(f.end for f in covering))
    option = _provider_hover(ls, item, engine, offset)
    if option is not None:
        markdown, option_span = option
        parts.insert(0, markdown)  # the option under the cursor first, then the findings
        span = span or option_span
    if not parts or span is None:
        return None
    return "\n\n---\n\n".join(parts), span


def _provider_hover(ls: "ExhortServer", item: OpenDocument, engine, offset: int) -> tuple[str, tuple[int, int]] | None:
    """The option references of the rule packs (HOVERS) for the cursor position."""
    document = item.document
    # Templates (.heex files) have no Elixir tree: providers then get node None and read
    # the cursor from ctx.hover_offset.
    node = document.tree.root_node.named_descendant_for_byte_range(offset, offset) if document.tree else None
    if document.tree is not None and node is None:
        return None
    global _hover_providers
    if _hover_providers is None:
        _hover_providers = discover_hover_providers()
    root = ls.indexer.index.project_root_of(item.path) if "://" not in item.path else None
    ctx = Context(document, ProjectPath.of(item.path, root), ls.indexer.index, engine.config.rule_params)
    ctx.hover_offset = offset
    for provider in _hover_providers:
        try:
            markdown = provider(ctx, node)
        except Exception:
            logger.exception("hover provider %s failed", getattr(provider, "__name__", provider))
            continue
        if markdown:
            return markdown, (node.start_byte, node.end_byte) if node is not None else (offset, offset)
    return None


def _suppression_hover(ls: "ExhortServer", item: OpenDocument, suppression) -> str:
    scope = {
        "disable-next-line": "the next line",
        "disable-line": "this line",
        "disable-file": "this file",
    }[suppression.kind]
    codes = ", ".join(f"`{code}`" for code in suppression.codes) if suppression.codes else "every rule"
    lines = [f"**exhort suppression**: silences {codes} on {scope}."]
    engine = ls.configs.engine_for(item.path)
    for code in suppression.codes:
        rules = [rule for rule in engine.registry.rules if rule.code.startswith(code)]
        if not rules:
            lines.append(f"- `{code}`: no such rule")
        for rule in rules[:10]:
            lines.append(f"- `{rule.code}` {rule.name}: {rule.summary}")
    unused = [
        f
        for f in item.findings
        if f.code == UNUSED_SUPPRESSION.code and f.start == suppression.start and f.end == suppression.end
    ]
    if unused:
        lines.append("")
        lines.append(f"It silences nothing here: {unused[0].message}.")
    else:
        lines.append("")
        lines.append("It silences at least one finding here.")
    return "\n".join(lines)


# -- code actions --------------------------------------------------------------------------


def code_actions(ls: "ExhortServer", item: OpenDocument, start: int, end: int, only: list[str] | None) -> list[dict]:
    document, encoding, uri = item.document, ls.encoding, item.uri
    wants_quickfix = only is None or any(kind == "quickfix" or "quickfix".startswith(kind) for kind in only)
    wants_fix_all = only is None or any(FIX_ALL_KIND.startswith(kind) for kind in only)
    actions: list[dict] = []
    touched = [f for f in item.findings if f.start <= end and start <= f.end]
    if wants_quickfix:
        for finding in touched:
            diagnostic = convert.diagnostic(finding, document, encoding, uri, ls.document_for_path)
            for fix in finding.fixes:
                edit = convert.workspace_edit(document, uri, fix.edits, encoding, ls.document_for_path)
                if edit is None:
                    continue  # it edits another file that cannot be read
                actions.append(
                    {
                        "title": fix.title,
                        "kind": "quickfix",
                        "diagnostics": [diagnostic],
                        "isPreferred": fix.safe and fix.in_document,
                        "edit": edit,
                    }
                )
            if finding.code != UNUSED_SUPPRESSION.code:
                actions.append(
                    {
                        "title": f"Disable {finding.code} for this line",
                        "kind": "quickfix",
                        "diagnostics": [diagnostic],
                        "edit": {"changes": {uri: [_disable_edit(document, finding)]}},
                    }
                )
    if wants_fix_all:
        edits = convert.non_overlapping_safe_edits(item.findings)
        if edits:
            fixed = [f for f in item.findings if f.safe_fix is not None]
            actions.append(
                {
                    "title": "exhort: fix all safe problems",
                    "kind": FIX_ALL_KIND,
                    "diagnostics": [
                        convert.diagnostic(f, document, encoding, uri, ls.document_for_path) for f in fixed
                    ],
                    "edit": {"changes": {uri: [convert.text_edit(document, e, encoding) for e in edits]}},
                }
            )
    return actions


def _disable_edit(document: Document, finding: Finding) -> dict:
    line = document.lines.line_of(finding.start)
    line_text = document.lines.line_bytes(line)
    indent = line_text[: len(line_text) - len(line_text.lstrip(b" \t"))].decode()
    if document.language == "heex" or _inside_heex_sigil(document, finding.start):
        comment = f"{indent}<%!-- exhort:disable-next-line {finding.code} --%>"
    else:
        comment = f"{indent}# exhort:disable-next-line {finding.code}"
    newline = "\r\n" if document.data[document.lines.line_end(line) : document.lines.line_end(line) + 2] == b"\r\n" else "\n"
    position = {"line": line, "character": 0}
    return {"range": {"start": position, "end": position}, "newText": comment + newline}


def _inside_heex_sigil(document: Document, offset: int) -> bool:
    if document.tree is None:
        return False
    node = document.tree.root_node.named_descendant_for_byte_range(offset, offset)
    while node is not None:
        if node.type == "sigil":
            name = next((c for c in node.named_children if c.type == "sigil_name"), None)
            return name is not None and name.text in (b"H", b"LVN")
        node = node.parent
    return False
