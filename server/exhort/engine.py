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
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, NamedTuple

import tree_sitter as ts

from .config import Config
from .document import Document
from .findings import CheckResult, Finding, RuleFailure
from .project import ProjectPath
from .registry import Registry, RuleGroup, default_registry
from .rule import Context, Match, MemberFactsMemo, Rule, members_memo_key
from .suppression import apply_suppressions
from .syntax import call_name, member_signature, module_members, signatures_digest
from .syntax_errors import SYNTAX_ERROR, syntax_error_findings

if TYPE_CHECKING:
    from .workspace import WorkspaceIndex


class CheckCancelled(Exception):
    """Engine.check stopped because its `cancelled` callback said so."""


class Segment(NamedTuple):  # a tuple: hundreds are made per keystroke in a big module
    node: ts.Node
    key: bytes  # the segment's bytes
    module_digest: bytes


# Where each member of a `defmodule` form lies, relative to the form's start, with its bytes
# and its contribution to the module's header digest: {start: (end, bytes, signature)}.
MemberPlaces = dict[int, tuple[int, bytes, bytes]]


@dataclass
class DocumentState:
    """Per-document memory kept between checks (the language server keeps one per buffer)."""

    caches: dict[tuple, dict[tuple, list[Finding]]] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)  # rules that raised on this document
    # whole top-level forms: form bytes -> findings, valid while forms_signature holds
    forms: dict[tuple[str, bytes], "_FormResult"] = field(default_factory=dict)
    forms_signature: tuple | None = None
    # where the last check found each top-level form: (document lineage, revision, {start: (end, bytes)})
    form_places: tuple | None = None
    members: dict[bytes, MemberPlaces] = field(default_factory=dict)  # form bytes -> its members
    # per group: member bytes -> where the group's query anchors occur in them (see matching)
    anchor_hits: dict[str, dict[bytes, list]] = field(default_factory=dict)
    member_facts: MemberFactsMemo = field(default_factory=MemberFactsMemo)  # see Context.member_facts

    def clear(self) -> None:
        self.member_facts.clear()
        self.caches.clear()
        self.forms.clear()
        self.forms_signature = None
        self.form_places = None
        self.members.clear()
        self.anchor_hits.clear()


class Engine:
    def __init__(self, config: Config | None = None, registry: Registry | None = None) -> None:
        self.registry = registry or default_registry()
        self.config = config or Config()
        self.enabled = self.config.enabled_codes(self.registry)
        self._groups = self.registry.groups(self.enabled)
        self._tokens = frozenset(t for group in self._groups for r in group.rules for t in r.requires)

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
        scopes: "frozenset[str] | set[str] | None" = None,
        report_syntax_errors: bool = False,
        cancelled: "Callable[[], bool] | None" = None,
    ) -> CheckResult:
        """Findings of the enabled rules. `scopes` limits the run to rules of those scopes
        ("node", "module", "document"); None runs them all. The language server uses it to
        answer a keystroke from the cheap scopes first and run whole-document rules later.
        `report_syntax_errors` adds EXH002 for code that does not parse (the CLI asks for it,
        the editor does not: half-typed code shows nothing).

        `cancelled` is asked between top-level forms and between whole-document rules; once
        it says True the check raises CheckCancelled, keeping in `state` the forms it finished
        (a check cancelled by every keystroke still makes progress).
        """
        state = state if state is not None else DocumentState()
        root = project_root
        if root is None and workspace is not None:
            root = workspace.project_root_of(document.path)
        state.member_facts.rotate_if_full()
        ctx = Context(document, ProjectPath.of(document.path, root), workspace, self.config.rule_params,
                      state.member_facts)
        result = CheckResult()
        failed: dict[str, str] = {}
        generation = workspace.generation if workspace is not None else 0

        node_groups: list[tuple[RuleGroup, list[Rule]]] = []
        forms = _top_level_forms(document, state) if document.tree is not None else []
        present = self._present_tokens(document)
        for group in self._groups:
            runnable = [
                r
                for r in group.rules
                if r.code not in state.disabled
                and document.language in r.languages
                and (not r.requires or not present.isdisjoint(r.requires))
            ]
            if not runnable or (scopes is not None and group.scope not in scopes):
                continue
            if group.scope == "document":
                for rule in runnable:
                    if cancelled is not None and cancelled():
                        raise CheckCancelled
                    result.findings.extend(self._run(rule, ctx, None, failed))
            elif document.tree is not None:
                node_groups.append((group, runnable))

        if node_groups:
            result.findings.extend(self._check_forms(forms, ctx, state, node_groups, generation, failed, cancelled))

        if failed:
            state.disabled.update(failed)
            for code, error in failed.items():
                result.failures.append(RuleFailure(code, document.path, error))
            result.findings = [f for f in result.findings if f.code not in failed]
            state.forms.clear()
            for key in state.caches:  # cached units may hold findings of the failed rules
                for unit, items in state.caches[key].items():
                    state.caches[key][unit] = [f for f in items if f.code not in failed]

        if report_syntax_errors and SYNTAX_ERROR.code in self.enabled:
            result.findings.extend(syntax_error_findings(document))
        findings = apply_suppressions(
            document, result.findings, self.enabled, report_unused_suppressions, self.registry.by_code
        )
        overrides = self.config.severity_overrides
        if overrides:
            findings = [f.with_severity(overrides[f.code]) if f.code in overrides else f for f in findings]
        findings.sort(key=lambda f: (f.start, f.end, f.code))
        result.findings = findings
        return result

    def _present_tokens(self, document: Document) -> set[bytes]:
        """Which rules' `requires` tokens the document contains (remembered by the document
        across edits, so a keystroke searches only around the edit)."""
        return {token for token in self._tokens if document.contains(token)}

    def _check_forms(
        self,
        forms: list[_Form],
        ctx: Context,
        state: DocumentState,
        groups: list[tuple[RuleGroup, list[Rule]]],
        generation: int,
        failed: dict[str, str],
        cancelled: "Callable[[], bool] | None" = None,
    ) -> list[Finding]:
        """Findings of the node- and module-scope groups, form by top-level form.

        A top-level form's findings depend only on its own bytes (node-scope rules see their
        member plus the header of the module, which lives in the same form), the document's
        path, the rules that run and, for workspace rules, the index generation. So a whole
        form is reused while those are unchanged, without re-deriving its segments: on a
        keystroke only the edited form does any work.
        """
        signature = (
            ctx.path.relative,
            id(self),
            frozenset(state.disabled),
            # which rules apply (their `requires` tokens) can change with text outside a form
            frozenset(rule.code for _, runnable in groups for rule in runnable),
            generation if any(rule.workspace for _, runnable in groups for rule in runnable) else 0,
        )
        if state.forms_signature != signature:
            state.forms.clear()
            state.forms_signature = signature
        found: list[Finding] = []
        fresh_forms: dict[tuple[str, bytes], _FormResult] = {}
        fresh_units: dict[tuple, dict[tuple, list[Finding]]] = {}
        fresh_members: dict[bytes, MemberPlaces] = {}
        interrupted = False
        for form, key, previous in forms:
            if cancelled is not None and cancelled():
                interrupted = True
                break
            # An ERROR node yields nothing (its members are unknown), and it may hold the very
            # bytes of a form that parsed cleanly before an edit elsewhere broke the file: its
            # cached findings must not come back.
            if not form.is_named or form.type in ("comment", "ERROR"):
                continue
            start = form.start_byte
            # The same bytes parse to other nodes where error recovery cut the file into
            # fragments (a call `IO.inspect` there, a bare `dot` here), or read them inside an error:
            # the type and whether the form holds an error are in the key.
            typed = (form.type, form.has_error, key)
            cached = fresh_forms.get(typed) or state.forms.get(typed)
            if cached is not None:
                fresh_forms[typed] = cached
                found.extend(cached.at(start))
                members = state.members.get(key)
                if members is not None:
                    fresh_members[key] = members
                continue
            segments = _Segments(form, key, previous, state, fresh_members, ctx.document.memo)
            form_findings = self._check_form(form, key, segments, ctx, state, groups, generation, failed, fresh_units)
            end = form.end_byte
            if all(start <= o <= end for f in form_findings for o in f.offsets()):
                fresh_forms[typed] = _FormResult([f.shifted(-start) for f in form_findings], start, form_findings)
            found.extend(form_findings)
        state.forms = {**state.forms, **fresh_forms} if interrupted else fresh_forms
        state.members = {**state.members, **fresh_members} if interrupted else fresh_members
        for cache_key, units in fresh_units.items():
            # Keep the units of forms that were reused whole too: the next edit of such a form
            # then re-runs only the member it touched.
            previous = state.caches.get(cache_key, {})
            previous.update(units)
            if len(previous) > 4 * max(len(units), 256):  # bounded: drop stale entries now and then
                previous = dict(units)
            state.caches[cache_key] = previous
        if interrupted:
            raise CheckCancelled
        return found

    def _check_form(
        self,
        form: ts.Node,
        form_key: bytes,
        segments: "_Segments",
        ctx: Context,
        state: DocumentState,
        groups: list[tuple[RuleGroup, list[Rule]]],
        generation: int,
        failed: dict[str, str],
        fresh_units: dict[tuple, dict[tuple, list[Finding]]],
    ) -> list[Finding]:
        found: list[Finding] = []
        for group, runnable in groups:
            if group.scope != "node" and form.has_error:
                # A half-typed form: only the rules that say they read one run on it.
                runnable = [rule for rule in runnable if rule.reads_broken_forms]
                if not runnable:
                    continue
            # Rules that read the workspace index are cached apart from the others, keyed on the
            # index generation too, so a change of the index re-runs only them.
            parts = [
                (reads_index, frozenset(r.code for r in runnable if r.workspace == reads_index))
                for reads_index in (False, True)
            ]
            parts = [(reads_index, codes) for reads_index, codes in parts if codes]
            cache_key = (group.key, ctx.path.relative, frozenset(r.code for r in runnable))
            cache = state.caches.get(cache_key, {})
            fresh = fresh_units.setdefault(cache_key, {})
            pieces = None
            if group.scope == "node":
                units = [(seg.node, (seg.key, seg.node.type, seg.module_digest)) for seg in segments.get()]
            else:
                units = [(form, (form_key, form.type))]
                # The whole form is checked again, but where its query's anchors occur is kept
                # per member: an edit searches its member again, not the form.
                pieces = [(seg.node.start_byte, seg.node.end_byte, seg.key) for seg in segments.get()]

            # Each unit's cache keys, one per part (a big module has hundreds of units, and this
            # loop runs on every keystroke: it stays plain).
            index_tag = ("index", generation)
            if len(parts) == 1 and not parts[0][0]:
                only = parts[0][1]
                unit_keys = [(node, node.start_byte, ((base, only),)) for node, base in units]
            elif len(parts) == 2:  # (False, codes), (True, codes): the usual node group
                plain, indexed = parts[0][1], parts[1][1]
                unit_keys = [(node, node.start_byte, ((base, plain), ((*base, *index_tag), indexed)))
                             for node, base in units]
            else:
                unit_keys = [
                    (node, node.start_byte,
                     tuple(((*base, *index_tag) if reads_index else base, codes) for reads_index, codes in parts))
                    for node, base in units
                ]
            needed: dict[int, set[str]] = {}
            for node, start, keys in unit_keys:
                for key, codes in keys:
                    if key not in fresh and key not in cache:
                        needed.setdefault(start, set()).update(codes)
            missing = [node for node, start, _ in unit_keys if start in needed] if needed else []
            batched = (
                self._run_query_by_unit(
                    group, frozenset().union(*needed.values()), ctx, form, missing, failed
                )
                if len(missing) >= BATCH_THRESHOLD
                else {}
            )
            for node, start, keys in unit_keys:
                computed = None
                if start in needed:
                    computed = batched.get(start)
                    if computed is None:
                        computed = self._run_query(
                            group, frozenset(needed[start]), ctx, node, failed,
                            pieces if pieces is not None else [(start, node.end_byte, keys[0][0][0])], state
                        )
                for key, codes in keys:
                    relative = fresh.get(key)
                    if relative is None:
                        relative = cache.get(key)
                    if relative is None:
                        unit_findings = [f for f in computed or () if f.code in codes]
                        end = node.end_byte
                        if all(start <= o <= end for f in unit_findings for o in f.offsets()):
                            relative = [f.shifted(-start) for f in unit_findings]
                        else:  # a finding reaches outside its unit: not reusable
                            found.extend(unit_findings)
                            continue
                    fresh[key] = relative
                    if relative:
                        found.extend(f.shifted(start) for f in relative)
        return found

    def _run_query_by_unit(
        self,
        group: RuleGroup,
        codes: frozenset[str],
        ctx: Context,
        form: ts.Node,
        units: list[ts.Node],
        failed: dict[str, str],
    ) -> dict[int, list[Finding]]:
        """One query pass over a whole form, findings bucketed by the unit holding each match.

        Equivalent to running the query on each unit (a match belongs to the unit that holds
        every node it captured; node-scope patterns capture their root), but one pass over the
        form costs far less than one QueryCursor per member when most members are new, as on
        opening a file or in `exhort check`.
        """
        matcher, dispatch = group.compiled
        results: dict[int, list[Finding]] = {unit.start_byte: [] for unit in units}
        if matcher is None:
            return results
        matches = _matches(matcher, form, ctx.document.data)
        if matches is None:
            return {}  # each unit is queried on its own: only the undecodable one yields nothing
        starts = [unit.start_byte for unit in units]
        ends = [unit.end_byte for unit in units]
        for pattern_index, captures in matches:
            rule, number = dispatch[pattern_index]
            if rule.code not in codes or rule.code in failed:
                continue
            low = min(node.start_byte for nodes in captures.values() for node in nodes)
            high = max(node.end_byte for nodes in captures.values() for node in nodes)
            slot = bisect_right(starts, low) - 1
            if slot < 0 or high > ends[slot]:
                continue  # the match is not inside one missing unit
            results[starts[slot]].extend(self._run(rule, ctx, Match(number, captures), failed))
        return results

    def _run_query(
        self,
        group: RuleGroup,
        codes: frozenset[str],
        ctx: Context,
        node: ts.Node,
        failed: dict[str, str],
        pieces: list[tuple[int, int, bytes]] | None = None,
        state: DocumentState | None = None,
    ) -> list[Finding]:
        matcher, dispatch = group.compiled
        if matcher is None:
            return []
        hits_cache = None
        if pieces and state is not None:
            hits_cache = state.anchor_hits.setdefault(group.key, {})
            if len(hits_cache) > 2 * len(pieces) + 4096:  # bounded: keep the current members' entries
                current = {key for _start, _end, key in pieces}
                hits_cache = state.anchor_hits[group.key] = {k: v for k, v in hits_cache.items() if k in current}
        found: list[Finding] = []
        for pattern_index, captures in _matches(matcher, node, ctx.document.data, pieces, hits_cache) or ():
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


def _matches(matcher: "AnchoredMatcher", node: ts.Node, data: bytes, *pieces) -> list | None:
    """The matcher's matches under `node`, or None when its text is not valid UTF-8 (a byte
    cut out of a character), which the query's text predicates cannot decode: such a unit
    yields no match (unknown never fires) instead of failing the whole check."""
    try:
        return matcher.matches(node, data, *pieces)
    except UnicodeDecodeError:
        return None


# Run one query pass over a form instead of one per member once this many members are new.
BATCH_THRESHOLD = 3


class _FormResult:
    """One form's findings relative to its start, plus the last absolute copy handed out."""

    __slots__ = ("relative", "base", "absolute")

    def __init__(self, relative: list[Finding], base: int, absolute: list[Finding]) -> None:
        self.relative = relative
        self.base = base
        self.absolute = absolute

    def at(self, start: int) -> list[Finding]:
        if start != self.base:  # the form moved: shift once, then reuse while it stays put
            self.absolute = [f.shifted(start) for f in self.relative]
            self.base = start
        return self.absolute


class _Form(NamedTuple):
    node: ts.Node
    key: bytes  # the form's bytes
    # Where the form started at the last check, with its bytes then, when no edit since
    # reached its start (its members can then be found again through the edits).
    previous: tuple[int, bytes, list[tuple[int, int, int]]] | None


def _top_level_forms(document: Document, state: DocumentState) -> list[_Form]:
    """Each top-level form with its bytes, the key of the per-form caches.

    Slicing and hashing every form of a big file on each keystroke costs more than checking
    the edited one. A form that no edit since the last check touched has the bytes it had
    then, so the bytes object of then is taken again: hashed already, and found in the
    caches by identity. A form is untouched when, mapped back through the edits, it has the
    same start and end as a form of the last check and no edit reaches into it.
    """
    places = state.form_places
    edits = document.edits_since(places[0], places[1]) if places is not None else None
    previous = places[2] if edits is not None else None
    forms: list[_Form] = []
    fresh: dict[int, tuple[int, bytes]] = {}
    latest_first = edits[::-1] if previous else []
    for form in document.tree.root_node.children:
        start, end = form.start_byte, form.end_byte
        key = None
        before = None
        if previous:
            old = _untouched(start, end, latest_first)
            if old is not None:
                place = previous.get(old[0])
                if place is not None and place[0] == old[1]:
                    key = place[1]
            else:
                old_start = _untouched(start, start, latest_first)
                place = previous.get(old_start[0]) if old_start is not None else None
                if place is not None:
                    before = (old_start[0], place[1], latest_first)
        if key is None:
            key = form.text or b""
        forms.append(_Form(form, key, before))
        fresh[start] = (end, key)
    state.form_places = (document.lineage, document.revision, fresh)
    return forms


def _untouched(start: int, end: int, latest_first: list[tuple[int, int, int]]) -> tuple[int, int] | None:
    """Where bytes [start, end) of the text were before the edits (newest first), or None
    when an edit reached into them (an insertion at either end counts as reaching in)."""
    for edit_start, edit_old_end, edit_new_end in latest_first:
        if end < edit_start:  # before the edit
            continue
        if start > edit_new_end:  # after it: moved by its length difference
            shift = edit_new_end - edit_old_end
            start -= shift
            end -= shift
            continue
        return None
    return start, end


class _Segments:
    """The segments of one top-level form, read when a node-scope group first needs them:
    each member of a `defmodule`, or the form itself. Members with syntax errors are skipped
    (the user is typing: unknown never fires).

    Every member's bytes and header signature are kept (MemberPlaces, by the form's bytes),
    so that after an edit only the members it touched are sliced and read again; the others
    are found through the edits at the place they had.
    """

    def __init__(self, form: ts.Node, key: bytes, previous, state: DocumentState,
                 fresh_members: dict[bytes, MemberPlaces], memo: dict) -> None:
        self.form, self.key, self.previous = form, key, previous
        self.state, self.fresh_members, self.memo = state, fresh_members, memo
        self.segments: list[Segment] | None = None

    def get(self) -> list[Segment]:
        if self.segments is None:
            self.segments = self._read()
        return self.segments

    def _read(self) -> list[Segment]:
        form = self.form
        if not (form.type == "call" and call_name(form) == (None, "defmodule")):
            return [Segment(form, self.key, b"")] if not form.has_error else []
        base = form.start_byte
        same = self.state.members.get(self.key)  # the same bytes: every place holds as it was
        old_places, old_base, latest_first = same, base, []
        if same is None and self.previous is not None:
            old_base, old_key, latest_first = self.previous
            old_places = self.state.members.get(old_key)
        places: MemberPlaces = {}
        signatures: list[bytes] = []
        texts: list[bytes] = []
        kept: list[tuple[ts.Node, bytes]] = []
        keyed: list[tuple[ts.Node, tuple]] = []  # for exhort.rule.members_with_keys
        for member in module_members(form):
            start, end = member.start_byte, member.end_byte
            error = member.has_error
            place = None
            if old_places and not error:
                old = _untouched(start, end, latest_first) if latest_first else (start - base + old_base, end - base + old_base)
                if old is not None:
                    place = old_places.get(old[0] - old_base)
                    if place is not None and place[0] != old[1] - old_base:
                        place = None
            if place is None:
                place = (0, member.text or b"", member_signature(member))
            places[start - base] = (end - base, place[1], place[2])
            signatures.append(place[2])
            texts.append(place[1])
            keyed.append((member, (member.type, error, place[1])))
            if not error:
                kept.append((member, place[1]))
        self.fresh_members[self.key] = places
        # The members, read here already, are what rules reading the module ask for next.
        self.memo.setdefault(members_memo_key(form), keyed)
        digest = signatures_digest(form, signatures, texts)
        return [Segment(member, member_key, digest) for member, member_key in kept]
