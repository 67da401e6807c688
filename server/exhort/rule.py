"""The rule model: what one place under rules/ declares, and what a rule's check receives.

A rule module under rules/<pack>/ defines RULE = Rule(...) and decorates its check:

    RULE = Rule(code="SEC001", name="unsafe-atom-creation", ..., query=r'''(call) @call''')

    @RULE.check
    def check(ctx: Context, match: Match):
        yield ctx.finding(match.node("call"), "message", fixes=[...])

Scopes decide what a check may look at, which is what lets the engine cache results:

- "node" (default): the match's top-level form or module member, plus the header facts of
  the enclosing module (ctx.module: name, use/alias lines, function signatures). Results are
  cached per member and reused while the member's text and the module header are unchanged.
- "module": anything in the enclosing top-level form. Re-run when that form's text changes.
- "document": no query; `check(ctx, None)` once per document run (templates, whole-file facts).

Rules that read the workspace index set `workspace=True`; their results are also keyed on
the index generation.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

import tree_sitter as ts

from .execution import Runs, file_runs as runs_in_file, runs
from .findings import Edit, Finding, Fix, Related, Severity
from .project import ProjectPath
from .syntax import ModuleInfo, enclosing_module, module_members, read_module

if TYPE_CHECKING:
    from .document import Document
    from .workspace import WorkspaceIndex

Scope = Literal["node", "module", "document"]
# A workspace-index fact extractor: (document, project path) -> plain, comparable data
# (tuples, strings, numbers, frozensets). Rule modules declare them as FACTS = {name: fn}.
FactExtractor = Callable[["Document", ProjectPath], Any]
# A hover provider: (context, smallest named node under the cursor) -> markdown or None.
# In templates (.heex files) there is no Elixir tree: node is None and ctx.hover_offset
# holds the cursor's byte offset.
# Modules under rules/ declare them as HOVERS = [fn]; the option references use them.
HoverProvider = Callable[["Context", "ts.Node | None"], "str | None"]
FindingSource = Iterable[Finding] | None


@dataclass(frozen=True)
class Param:
    """A rule parameter settable in .exhort.toml under [rules.CODE]."""

    default: Any
    description: str

    @property
    def type(self) -> type:
        return type(self.default)


@dataclass(frozen=True)
class Example:
    """A snippet the rule must flag (bad) or leave alone (good).

    In bad snippets, each line that must carry a finding ends with a marker comment
    `# expect: CODE` (Elixir) or `<%!-- expect: CODE --%>` (HEEx). `fixed` is the text after
    applying the rule's first fix (safe or offered) to every finding, when the rule has one.
    `files` adds other workspace files (path -> text) for rules that read the workspace index.
    `fixed_files` is, for a fix that edits some of those files, their text after it (path ->
    text); an example that gives it without `fixed` declares that the snippet is left alone.
    """

    code: str
    bad: bool
    path: str = "lib/example.ex"
    fixed: str | None = None
    note: str = ""
    files: dict[str, str] = field(default_factory=dict)
    fixed_files: dict[str, str] = field(default_factory=dict)


def bad(code: str, *, path: str = "lib/example.ex", fixed: str | None = None, note: str = "",
        files: dict[str, str] | None = None, fixed_files: dict[str, str] | None = None) -> Example:
    fixed_text = textwrap.dedent(fixed).lstrip("\n") if fixed is not None else None
    return Example(textwrap.dedent(code).lstrip("\n"), True, path, fixed_text, note, files or {}, fixed_files or {})


def good(code: str, *, path: str = "lib/example.ex", note: str = "", files: dict[str, str] | None = None) -> Example:
    return Example(textwrap.dedent(code).lstrip("\n"), False, path, None, note, files or {})


@dataclass
class Rule:
    code: str
    name: str
    category: str
    severity: Severity
    summary: str
    explanation: str
    query: str | None = None
    scope: Scope = "node"
    languages: tuple[str, ...] = ("elixir",)
    workspace: bool = False
    deprecated_api: bool = False
    # Byte strings one of which a document must contain for the rule to apply at all (b"Oban",
    # b"~H", ...). A cheap test that spares documents the rule's check; empty: always run.
    requires: tuple[bytes, ...] = ()
    fix_safety: str = "none"  # "safe", "offer", "safe/offer" or "none", as the catalog labels it
    # Where the risk the rule describes exists (exhort.execution.Runs): findings on code that
    # runs elsewhere (tests, Mix tasks, migrations, macros...) are dropped. None: everywhere.
    runs_in: frozenset[Runs] | None = None
    # False: only runs when selected by its exact code or name (not by "ALL", a prefix or a
    # category); the explanation says why it is off.
    enabled_by_default: bool = True
    # The Exhort version that first shipped the rule (shown on its page in docs/rules/). Every
    # rule so far came with 0.1.0; a rule added later names the version it arrives in.
    since: str = "0.1.0"
    # Module scope only: also run on a top-level form that holds a syntax error (a file being
    # typed). The check reads the module's members (exhort.syntax.module_members recovers those
    # an unfinished definition swallowed) and must skip what it cannot read.
    reads_broken_forms: bool = False
    params: dict[str, Param] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    pack: str = ""
    _check: Callable[["Context", "Match | None"], FindingSource] | None = None

    def check(self, function: Callable[["Context", "Match | None"], FindingSource]):
        """Decorator registering the rule's check function."""
        self._check = function
        return function

    def run(self, ctx: "Context", match: "Match | None") -> list[Finding]:
        if self._check is None:
            return []
        if self.runs_in is not None and ctx.file_role_outside(ctx.places(self)):
            return []  # every finding would be dropped below: the check is not worth running
        findings = list(self._check(ctx, match) or ())
        if self.runs_in is not None and findings:
            places = ctx.places(self)
            findings = [f for f in findings if ctx.runs_at(f.start) in places]
        return findings

    @property
    def explanation_markdown(self) -> str:
        text = textwrap.dedent(self.explanation).strip() + "\n"
        if self.runs_in is not None:
            reported = ", ".join(place.value for place in Runs if place in self.runs_in)
            skipped = ", ".join(place.value for place in Runs if place not in self.runs_in)
            text += (f"\nReports in: {reported} code. Left alone: {skipped} code "
                     f"(the `runs-in` setting of [rules.{self.code}] widens this).\n")
        if not self.enabled_by_default:
            text += f"\nOff by default: select it by its code ({self.code}) to run it.\n"
        return text


class Match:
    """Captures of one query match, by capture name."""

    __slots__ = ("pattern", "captures")

    def __init__(self, pattern: int, captures: dict[str, list[ts.Node]]) -> None:
        self.pattern = pattern  # index among the rule's own patterns
        self.captures = captures

    def node(self, name: str) -> ts.Node:
        return self.captures[name][0]

    def get(self, name: str) -> ts.Node | None:
        nodes = self.captures.get(name)
        return nodes[0] if nodes else None

    def all(self, name: str) -> list[ts.Node]:
        return self.captures.get(name, [])


_MISSING = object()


class MemberFactsMemo:
    """Facts that module-scope rules read from single module members, by member text.

    The language server keeps one per document between checks, so an edit inside one `def`
    re-reads that `def` only and the rule folds the facts of all members again (cheap). Two
    generations bound it: entries not asked for since the last rotation are dropped at the next
    (Context.member_facts reads `current`, then `previous`, and files what it found in `current`).
    """

    LIMIT = 16384

    def __init__(self) -> None:
        self.current: dict = {}
        self.previous: dict = {}

    def rotate_if_full(self) -> None:
        if len(self.current) > self.LIMIT:
            self.previous, self.current = self.current, {}

    def clear(self) -> None:
        self.current.clear()
        self.previous.clear()


class Context:
    """What a check may read about the document being checked."""

    def __init__(
        self,
        document: "Document",
        project_path: ProjectPath,
        workspace: "WorkspaceIndex | None",
        params: dict[str, dict[str, Any]],
        member_facts: MemberFactsMemo | None = None,
    ) -> None:
        self.document = document
        self._member_facts = member_facts if member_facts is not None else MemberFactsMemo()
        self.path = project_path
        self.workspace = workspace
        self._params = params
        self.rule: Rule | None = None
        # For hover providers: the byte offset of the cursor. Templates (.heex files, ~H
        # bodies) have no Elixir node under the cursor, so providers read the offset instead.
        self.hover_offset: int | None = None
        self._file_role: Runs | None = None

    @property
    def data(self) -> bytes:
        return self.document.data

    @property
    def params(self) -> dict[str, Any]:
        assert self.rule is not None
        values = {name: param.default for name, param in self.rule.params.items()}
        values.update(self._params.get(self.rule.code, {}))
        return values

    def module_of(self, node: ts.Node) -> ModuleInfo | None:
        module = enclosing_module(node) if not _is_defmodule(node) else node
        if module is None:
            return None
        return module_info(self.document, module)

    def member_facts(self, module: ts.Node, extract: Callable[[ts.Node], Any]) -> list[tuple[ts.Node, Any]]:
        """`extract(member)` for each member of `module` (exhort.syntax.module_members), each
        remembered by the member's text: for module-scope rules, whose whole form is checked
        again on every edit, so that only the edited member is read again and the rule folds.

        `extract` must depend on the member's bytes alone (not on its place, other members or
        the module header: resolve aliases in the fold) and give offsets relative to the
        member's start. Its result must not hold tree nodes, which belong to one parse.
        """
        memo = self._member_facts
        current, previous = memo.current, memo.previous
        found = []
        for member, key in members_with_keys(self.document, module):  # plain: runs per keystroke
            key = (extract, key)
            value = current.get(key, _MISSING)
            if value is _MISSING:
                value = previous.get(key, _MISSING)
                if value is _MISSING:
                    value = extract(member)
                current[key] = value
            found.append((member, value))
        return found

    def places(self, rule: Rule) -> frozenset[Runs]:
        """Where `rule` reports: its `runs_in`, or the `runs-in` the configuration gives it."""
        configured = self._params.get(rule.code, {}).get("runs-in")
        return configured if configured is not None else (rule.runs_in or frozenset(Runs))

    def file_role_outside(self, places: frozenset[Runs]) -> bool:
        """Whether the whole file runs outside `places`: a file that is not production code
        (tests, config, a migration...) runs in that one place at every offset (see `runs`)."""
        role = self._file_role
        if role is None:
            role = self._file_role = runs_in_file(self.path)
        return role is not Runs.PRODUCTION and role not in places

    def runs(self, node: ts.Node) -> Runs:
        """Where `node`'s code runs: production, tests, build, migration, console, compile time."""
        return runs(self.document, self.path, node)

    def runs_at(self, offset: int) -> Runs:
        """Where the code at a byte offset runs (see `runs`); templates take their file's role."""
        tree = self.document.tree
        if tree is None or self.document.language != "elixir":
            return runs_in_file(self.path)
        return runs(self.document, self.path, tree.root_node.descendant_for_byte_range(offset, offset))

    def version(self, package: str) -> tuple[int, ...] | None:
        """The locked version of a Hex package (from mix.lock), or None when unknown."""
        if self.workspace is None:
            return None
        return self.workspace.locked_version(self.document.path, package)

    def finding(
        self,
        where: ts.Node | tuple[int, int],
        message: str,
        *,
        fixes: Iterable[Fix] = (),
        related: Iterable[Related] = (),
        severity: Severity | None = None,
        unnecessary: bool = False,
    ) -> Finding:
        assert self.rule is not None
        start, end = (where.start_byte, where.end_byte) if isinstance(where, ts.Node) else where
        return Finding(
            code=self.rule.code,
            severity=severity or self.rule.severity,
            start=start,
            end=end,
            message=message,
            related=tuple(related),
            fixes=tuple(fixes),
            deprecated=self.rule.deprecated_api,
            unnecessary=unnecessary,
        )


def module_info(document: "Document", module: ts.Node) -> ModuleInfo:
    """The header facts of a `defmodule` node, read once per document text."""
    key = ("module", module.start_byte, module.end_byte)
    info = document.memo.get(key)
    if info is None:
        members = members_with_keys(document, module)
        info = read_module(module, [member for member, _ in members], [key[2] for _, key in members])
        document.memo[key] = info
    return info


def members_memo_key(module: ts.Node) -> tuple:
    """Where members_with_keys keeps a module's members in Document.memo (the engine files
    them there too, having read them already)."""
    return ("members", module.start_byte, module.end_byte)


def members_with_keys(document: "Document", module: ts.Node) -> list[tuple[ts.Node, tuple]]:
    """A module's members (exhort.syntax.module_members), each with a key that is equal for
    equal members (type, whether it holds an error, its bytes), read once per document text."""
    key = members_memo_key(module)
    members = document.memo.get(key)
    if members is None:
        members = [(member, (member.type, member.has_error, member.text)) for member in module_members(module)]
        document.memo[key] = members
    return members


def _is_defmodule(node: ts.Node) -> bool:
    if node.type != "call":
        return False
    target = node.child_by_field_name("target")
    return target is not None and target.type == "identifier" and target.text == b"defmodule"


def replace_node(node: ts.Node | tuple[int, int], new_text: str) -> Edit:
    start, end = (node.start_byte, node.end_byte) if isinstance(node, ts.Node) else node
    return Edit(start, end, new_text)


def fix(title: str, *edits: Edit, safe: bool) -> Fix:
    return Fix(title, tuple(edits), safe)


def requires(*tokens: bytes):
    """Mark a fact extractor as relevant only to documents containing one of `tokens`."""

    def mark(function):
        function.requires = tokens
        return function

    return mark
