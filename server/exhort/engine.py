"""The engine: runs the enabled rules over a document and returns findings.

It knows nothing of LSP, terminals or files on disk, and never names a rule. Work is cut
into units whose results can be reused while their text is unchanged:

- node-scope rules run per *segment*: each top-level form, or each member of a top-level
  `defmodule` (a def, a use line, an attribute). A segment's findings are cached relative
  to its start, keyed on its bytes and on the digest of its module's header facts.
- module-scope rules run per top-level form, keyed on the form's bytes.
- document-scope rules run once per check.

Rules reading the workspace index add the index generation to their keys. Segments with
syntax errors are skipped (the user is typing: unknown never fires).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import tree_sitter as ts

from .config import Config
from .document import Document
from .findings import CheckResult, Finding, RuleFailure
from .project import ProjectPath
from .registry import Registry, RuleGroup, default_registry
from .rule import Context, Match, Rule
from .suppression import apply_suppressions
from .syntax import call_name, header_digest, module_members

if TYPE_CHECKING:
    from .workspace import WorkspaceIndex


@dataclass(frozen=True, slots=True)
class Segment:
    node: ts.Node
    module_digest: bytes


@dataclass
class DocumentState:
    """Per-document memory kept between checks (the language server keeps one per buffer)."""

    caches: dict[tuple, dict[tuple, list[Finding]]] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)  # rules that raised on this document

    def clear(self) -> None:
        self.caches.clear()


class Engine:
    def __init__(self, config: Config | None = None, registry: Registry | None = None) -> None:
        self.registry = registry or default_registry()
        self.config = config or Config()
        self.enabled = self.config.enabled_codes(self.registry)
        self._groups = self.registry.groups(self.enabled)

    def rule(self, code: str) -> Rule | None:
        return self.registry.by_code.get(code)

    def warm_up(self) -> None:
        """Compile every group's query now instead of on the first check."""
        for group in self._groups:
            group.compiled  # noqa: B018 - cached_property

    def check(
        self,
        document: Document,
        workspace: "WorkspaceIndex | None" = None,
        state: DocumentState | None = None,
        *,
        project_root: str | None = None,
        report_unused_suppressions: bool = False,
    ) -> CheckResult:
        state = state if state is not None else DocumentState()
        root = project_root
        if root is None and workspace is not None:
            root = workspace.project_root_of(document.path)
        ctx = Context(document, ProjectPath.of(document.path, root), workspace, self.config.rule_params)
        result = CheckResult()
        failed: dict[str, str] = {}
        generation = workspace.generation if workspace is not None else 0
        segments = list(_segments(document)) if document.tree is not None else []
        forms = _top_level_forms(document) if document.tree is not None else []

        for group in self._groups:
            runnable = [r for r in group.rules if r.code not in state.disabled and document.language in r.languages]
            if not runnable:
                continue
            cache_key = (group.key, ctx.path.relative)
            cache = state.caches.setdefault(cache_key, {})
            fresh: dict[tuple, list[Finding]] = {}
            extra = (generation,) if group.workspace else ()
            if group.scope == "document":
                for rule in runnable:
                    result.findings.extend(self._run(rule, ctx, None, failed))
                continue
            if document.tree is None:
                continue
            units = (
                ((seg.node, (seg.node.text, seg.module_digest, *extra)) for seg in segments)
                if group.scope == "node"
                else ((form, (form.text, *extra)) for form in forms)
            )
            runnable_codes = {r.code for r in runnable}
            for node, key in units:
                relative = fresh.get(key)
                if relative is None:
                    relative = cache.get(key)
                if relative is None:
                    found = self._run_query(group, runnable_codes, ctx, node, failed)
                    start, end = node.start_byte, node.end_byte
                    if all(start <= o <= end for f in found for o in f.offsets()):
                        relative = [f.shifted(-start) for f in found]
                    else:  # a finding reaches outside its unit: not reusable
                        result.findings.extend(found)
                        continue
                fresh[key] = relative
                result.findings.extend(f.shifted(node.start_byte) for f in relative)
            state.caches[cache_key] = fresh

        if failed:
            state.disabled.update(failed)
            for code, error in failed.items():
                result.failures.append(RuleFailure(code, document.path, error))
            result.findings = [f for f in result.findings if f.code not in failed]
            for key in state.caches:  # cached units may hold findings of the failed rules
                for unit, items in state.caches[key].items():
                    state.caches[key][unit] = [f for f in items if f.code not in failed]

        findings = apply_suppressions(document, result.findings, self.enabled, report_unused_suppressions)
        overrides = self.config.severity_overrides
        if overrides:
            from dataclasses import replace

            findings = [replace(f, severity=overrides[f.code]) if f.code in overrides else f for f in findings]
        findings.sort(key=lambda f: (f.start, f.end, f.code))
        result.findings = findings
        return result

    def _run_query(
        self, group: RuleGroup, codes: set[str], ctx: Context, node: ts.Node, failed: dict[str, str]
    ) -> list[Finding]:
        query, dispatch = group.compiled
        if query is None:
            return []
        found: list[Finding] = []
        for pattern_index, captures in ts.QueryCursor(query).matches(node):
            rule, number = dispatch[pattern_index]
            if rule.code not in codes or rule.code in failed:
                continue
            found.extend(self._run(rule, ctx, Match(number, captures), failed))
        return found

    @staticmethod
    def _run(rule: Rule, ctx: Context, match: Match | None, failed: dict[str, str]) -> list[Finding]:
        if rule.code in failed:
            return []
        ctx.rule = rule
        try:
            return rule.run(ctx, match)
        except Exception as error:  # a broken rule must never take the others down
            failed[rule.code] = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=6)}"
            return []
        finally:
            ctx.rule = None


def _top_level_forms(document: Document) -> list[ts.Node]:
    assert document.tree is not None
    return [n for n in document.tree.root_node.named_children if n.type != "comment" and not n.has_error]


def _segments(document: Document) -> Iterator[Segment]:
    assert document.tree is not None
    for form in document.tree.root_node.named_children:
        if form.type == "comment":
            continue
        if form.type == "call" and call_name(form) == (None, "defmodule"):
            members = module_members(form)
            digest = header_digest(form, members)
            for member in members:
                if not member.has_error:
                    yield Segment(member, digest)
            continue
        if not form.has_error:
            yield Segment(form, b"")
