"""Engine behaviour: isolation of failing rules, caching, suppressions, paths and config."""

from __future__ import annotations

import random
import textwrap

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from exhort.config import Config, ConfigError, parse_config
from exhort.document import Document, TextChange
from exhort.engine import DocumentState, Engine
from exhort.findings import Severity
from exhort.project import ProjectPath
from exhort.registry import Registry, default_registry
from exhort.rule import Rule, bad, good

SOURCE = textwrap.dedent(
    """
    defmodule App.A do
      def a(x), do: length(x) > 0
      def b(x), do: String.to_atom(x)
    end
    """
).lstrip()


def codes(result):
    return [f.code for f in result.findings]


def exploding_rule() -> Rule:
    rule = Rule(
        code="TST001", name="explodes", category="test", severity=Severity.WARNING, summary="raises",
        explanation="## TST001 explodes\n", query="((call) @call)", examples=[bad("x()  # expect: TST001"), good("1")],
    )
    rule.pack = "test"

    @rule.check
    def check(ctx, match):
        raise RuntimeError("boom")

    return rule


def test_a_raising_rule_loses_only_its_own_findings():
    registry = Registry([*default_registry().rules, exploding_rule()])
    engine = Engine(Config(), registry)
    state = DocumentState()
    result = engine.check(Document("lib/a.ex", SOURCE), state=state)
    assert codes(result) == ["PRF001", "SEC001"]
    assert [f.code for f in result.failures] == ["TST001"] and "boom" in result.failures[0].error
    again = engine.check(Document("lib/a.ex", SOURCE), state=state)
    assert again.failures == [] and codes(again) == ["PRF001", "SEC001"]  # reported once, then disabled


def test_cached_results_follow_edits():
    engine = Engine()
    state = DocumentState()
    document = Document("lib/a.ex", SOURCE)
    first = engine.check(document, state=state)
    document.apply_range_edit(0, 0, 0, 0, "# moved\n\n", "utf-16")
    second = engine.check(document, state=state)
    assert [(f.code, f.start - 9) for f in second.findings] == [(f.code, f.start) for f in first.findings]
    line = document.text.splitlines().index("  def b(x), do: String.to_atom(x)")
    document.apply_range_edit(line, 17, line, 33, "String.to_existing_atom", "utf-16")
    assert codes(engine.check(document, state=state)) == ["PRF001"]


def test_module_header_changes_invalidate_members():
    source = "defmodule W do\n  use Oban.Worker\n  def perform(a, b), do: {a, b}\nend\n"
    engine = Engine(Config(select=("OBN003",)))
    state = DocumentState()
    document = Document("lib/w.ex", source)
    assert codes(engine.check(document, state=state)) == ["OBN003"]
    document.apply_range_edit(1, 2, 1, 17, "use Oban.Pro.Worker", "utf-16")
    assert codes(engine.check(document, state=state)) == []


def test_half_typed_code_is_silent_and_never_raises():
    engine = Engine()
    for cut in range(0, len(SOURCE), 7):
        result = engine.check(Document("lib/a.ex", SOURCE[:cut]))
        assert result.failures == []


@pytest.mark.parametrize(
    ("comment", "silenced"),
    [
        ("  # exhort:disable-next-line PRF001\n", True),
        ("  # exhort:disable-next-line SEC001, PRF\n", True),
        ("  # exhort:disable-next-line\n", True),
        ("  # exhort:disable-next-line SEC001\n", False),
        ("  # exhort:disable-file PRF001\n", True),
    ],
)
def test_suppression_comments(comment, silenced):
    source = SOURCE.replace("  def a", comment + "  def a")
    found = codes(Engine(Config(select=("PRF001",))).check(Document("lib/a.ex", source)))
    assert (found == []) is silenced


def test_trailing_disable_line_and_strings_are_not_comments():
    source = SOURCE.replace("length(x) > 0", "length(x) > 0  # exhort:disable-line PRF001")
    assert codes(Engine(Config(select=("PRF001",))).check(Document("lib/a.ex", source))) == []
    in_string = 'defmodule S do\n  def a(x), do: {"# exhort:disable-line PRF001", length(x) > 0}\nend\n'
    assert codes(Engine(Config(select=("PRF001",))).check(Document("lib/a.ex", in_string))) == ["PRF001"]


def test_heex_suppression_inside_sigil():
    source = (
        'defmodule V do\n  def render(assigns) do\n    ~H"""\n    <%!-- exhort:disable-next-line PRF001 --%>\n'
        '    """\n  end\nend\n'
    )
    result = Engine(Config(select=("PRF001", "EXH001"))).check(Document("lib/v.ex", source),
                                                              report_unused_suppressions=True)
    assert codes(result) == ["EXH001"]


def test_project_paths():
    assert ProjectPath.of("/src/app/test/a_test.exs", "/src/app").is_test
    assert ProjectPath.of("/w/apps/api/config/runtime.exs", "/w/apps/api").is_runtime_config
    assert ProjectPath.of("/w/priv/repo/migrations/1_a.exs", "/w").is_migration
    assert ProjectPath.of("/home/me/code/app/lib/app/x.ex", None).relative == "lib/app/x.ex"
    assert not ProjectPath.of("/w/lib/mix/tasks/x.ex", "/w").is_production_code


def test_config_parsing_and_overrides():
    registry = default_registry()
    config = parse_config('select = ["SEC", "PRF001"]\nignore = ["unsafe-atom-creation"]\n', registry)
    enabled = config.enabled_codes(registry)
    assert "PRF001" in enabled and "SEC001" not in enabled and "PRF002" not in enabled
    assert {code for code in enabled if code.startswith("SEC")} == {r.code for r in registry.rules
                                                                  if r.category == "security"} - {"SEC001"}
    layered = config.with_overrides(select=["ALL"], extend_ignore=["PRF"])
    assert "PRF001" not in layered.enabled_codes(registry) and "OBN003" in layered.enabled_codes(registry)
    with pytest.raises(ConfigError) as error:
        parse_config("[rules.PRF001]\nthreshold = 3\n", registry)
    assert error.value.line == 2 and "unknown setting 'threshold'" in error.value.message


def test_default_excludes():
    from pathlib import Path

    config = Config()
    assert config.is_excluded(Path("deps/oban/lib/oban.ex"))
    assert config.is_excluded(Path("apps/web/_build/dev/x.ex"))
    assert not config.is_excluded(Path("lib/app/deps_helper.ex"))


def test_module_aliases_are_resolved():
    from exhort.syntax import read_module

    source = "defmodule A do\n  alias Foo.{Bar, Baz.Qux}\n  alias X.Y, as: Z\n  alias Oban.Worker\nend\n"
    info = read_module(Document("lib/a.ex", source).tree.root_node.named_children[0])
    assert info.resolve_alias("Bar.Sub") == "Foo.Bar.Sub"
    assert info.resolve_alias("Qux") == "Foo.Baz.Qux"
    assert info.resolve_alias("Z") == "X.Y"
    assert info.resolve_alias("Worker") == "Oban.Worker"
    assert info.resolve_alias("Other") == "Other"


def test_batched_query_pass_matches_per_member_runs(monkeypatch):
    """Opening a file runs one query pass per form; it must find what per-member runs find."""
    import exhort.engine as engine_module
    from pathlib import Path

    from exhort.files import index_files
    from exhort.workspace import WorkspaceIndex

    sample = Path(__file__).resolve().parent.parent / "examples" / "sample_app"
    index = WorkspaceIndex(root_finder=lambda _path: str(sample))
    index_files(index, [sample], lambda _path: Config())
    engine = Engine()
    for path in sorted(sample.rglob("*.ex*")):
        document = Document(str(path), path.read_text())
        monkeypatch.setattr(engine_module, "BATCH_THRESHOLD", 1)
        batched = engine.check(document, index).findings
        monkeypatch.setattr(engine_module, "BATCH_THRESHOLD", 10**9)
        per_member = engine.check(document, index).findings
        assert batched == per_member, path.name


def test_requires_tokens_skip_rules_and_extractors():
    from exhort.rule import requires
    from exhort.workspace import WorkspaceIndex

    rule = exploding_rule()
    rule.requires = (b"Never.Present",)
    registry = Registry([*default_registry().rules, rule])
    result = Engine(Config(), registry).check(Document("lib/a.ex", SOURCE))
    assert result.failures == []  # the rule did not apply, so it could not raise

    calls = []

    @requires(b"Oban")
    def oban_only(document, path):
        calls.append(document.path)
        return ("seen",)

    index = WorkspaceIndex(extractors={"oban_only": oban_only})
    index.update(Document("lib/a.ex", SOURCE))
    index.update(Document("lib/w.ex", "defmodule W do\n  use Oban.Worker\nend\n"))
    assert calls == ["lib/w.ex"] and [path for path, _ in index.facts("oban_only")] == ["lib/w.ex"]


INCREMENTAL_SEED = "".join(
    f"defmodule App.M{n} do\n  def a(x), do: length(x) > 0\n  def b(x), do: String.to_atom(x)\nend\n\n"
    for n in range(6)
) + "IO.inspect(:top)\n"
INCREMENTAL_PIECES = ["x", " ", "\n", "|> f()", "end", "defmodule N do\n", '"', "#", "(", ")", "length(y) == 0",
                      "String.to_atom(y)", "def c(z), do: z\n", "é", ""]


def apply_random_edit(document: Document, seed: int, pieces: list[str]) -> None:
    """Replace a few bytes at a place chosen by `seed` with the pieces typed together."""
    rng = random.Random(seed)
    size = len(document.data)
    start = rng.randrange(size + 1)
    end = min(size, start + rng.choice([0, 0, 1, 3, 20]))
    document.apply(TextChange(start, end, "".join(pieces).encode()))


@settings(max_examples=80, deadline=None)
# A `"` typed in the last module wraps an earlier, untouched module into an ERROR node with
# the very bytes it had: its cached findings must not come back.
@example(steps=[(707398, ["x"], False), (154, [], False), (12, ['"'], True)])
# Half of an `é` left in a string: text the query predicates cannot decode must not fail the
# check, and a whole-form query pass must not lose the other members' findings over it.
@example(steps=[(4092386, ["é", '"'], True), (4092386, ['"'], True)])
# Error recovery cuts the file into fragments: the bytes `IO.inspect` of a cached call form
# come back as a bare `dot` fragment, which must not take the call's findings.
@example(steps=[(1, [], False), (4, ["length(y) == 0"], False), (5590, ["|> f()", "defmodule N do\n"], True),
                (1, ["defmodule N do\n"], True)])
@given(st.lists(st.tuples(st.integers(0, 2**31), st.lists(st.sampled_from(INCREMENTAL_PIECES), max_size=3),
                          st.booleans()), min_size=1, max_size=14))
def test_incremental_checks_equal_checks_from_scratch(steps):
    """Edits, sometimes several between two checks: the kept state (form caches keyed by
    bytes, forms found again by position through the edits) gives what a check from scratch
    of the same document gives. (Of the same tree: after edits that leave errors, tree-sitter's
    incremental parse may differ from a parse of the text anew, which is not the engine's doing.)"""
    engine = Engine()
    state = DocumentState()
    document = Document("lib/m.ex", INCREMENTAL_SEED)
    engine.check(document, state=state)
    for seed, pieces, check_now in steps:
        apply_random_edit(document, seed, pieces)
        if not check_now:
            continue
        incremental = engine.check(document, state=state)
        fresh = engine.check(document, state=DocumentState())
        assert incremental.findings == fresh.findings
        lineage, revision, places = state.form_places
        assert lineage is document.lineage and revision == document.revision
        assert all(key == document.data[start:end] for start, (end, key) in places.items())


def test_a_rule_off_by_default_runs_only_when_named():
    from exhort.config import Config

    rule = exploding_rule()
    rule.enabled_by_default = False
    registry = Registry([*default_registry().rules, rule])
    assert "TST001" not in Config().enabled_codes(registry)
    assert "TST001" not in Config(select=("TST",)).enabled_codes(registry)
    assert "TST001" not in Config(select=("test",)).enabled_codes(registry)
    assert "TST001" in Config(select=("ALL", "TST001")).enabled_codes(registry)
    assert "TST001" in Config(select=("explodes",)).enabled_codes(registry)
    assert "TST001" not in Config(select=("TST001",), ignore=("TST",)).enabled_codes(registry)


def test_anchored_matching_finds_what_a_full_query_pass_finds():
    """Matches found from the names patterns anchor on are those of a walk of every node,
    over every rule example and the sample application (including broken code)."""
    from pathlib import Path

    import tree_sitter as ts

    from exhort.parsing import compile_query

    def keyed(matches):
        return sorted((index, sorted((name, [n.id for n in nodes]) for name, nodes in captures.items()))
                      for index, captures in matches)

    sample = Path(__file__).resolve().parent.parent / "examples" / "sample_app"
    texts = [example.code for rule in default_registry().rules for example in rule.examples]
    texts += [path.read_text() for path in sorted(sample.rglob("*.ex*"))]
    texts += [text[: len(text) // 2] for text in texts]  # cut short: ERROR nodes
    registry = default_registry()
    checked = 0
    for group in registry.groups({rule.code for rule in registry.rules}):
        matcher, _dispatch = group.compiled
        if matcher is None:
            continue
        full = compile_query(matcher.source)
        for text in texts:
            document = Document("lib/a.ex", text)
            expected = keyed(ts.QueryCursor(full).matches(document.tree.root_node))
            assert keyed(matcher.matches(document.tree.root_node, document.data)) == expected, text
            checked += len(expected)
    assert checked > 500


def test_core_modules_import_one_another_without_cycles():
    """The core's modules form no import cycle (function-level imports included; imports
    for type checking only are not run): registry, rule, suppression and workspace each
    stand on the ones below them."""
    import ast
    from pathlib import Path

    core = Path(__file__).resolve().parent.parent / "server" / "exhort"
    names = {path.stem for path in core.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in core.glob("*.py"):
        imports: set[str] = set()
        pending = list(ast.parse(path.read_text()).body)
        while pending:
            node = pending.pop()
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                if node.module.split(".")[0] in names:
                    imports.add(node.module.split(".")[0])
            pending.extend(ast.iter_child_nodes(node))
        graph[path.stem] = imports

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    assert [name for name in sorted(graph) if reaches(name, name, {name})] == []


def test_typing_in_a_doc_reruns_no_other_members_rules():
    """A module attribute's value (a @doc, a @spec) is no header fact: editing it leaves the
    other members' node-scope results cached, and the findings are those of a fresh check."""
    seen: list[int] = []
    rule = Rule(
        code="TST002", name="counts", category="test", severity=Severity.HINT, summary="counts its runs",
        explanation="## TST002 counts\n", query='((call target: (identifier) @f) @call (#eq? @f "length"))',
        examples=[bad("length(x)  # expect: TST002"), good("1")],
    )
    rule.pack = "test"

    @rule.check
    def check(ctx, match):
        seen.append(match.node("call").start_byte)
        yield ctx.finding(match.node("call"), "length")

    engine = Engine(Config(), Registry([*default_registry().rules, rule]))
    source = "defmodule A do\n  @doc \"\"\"\n  Counts.\n  \"\"\"\n  def a(x), do: length(x)\n  def b(x), do: length(x)\nend\n"
    document = Document("lib/a.ex", source)
    state = DocumentState()
    engine.check(document, state=state)
    assert len(seen) == 2
    at = document.data.index(b"Counts")
    document.apply(TextChange(at, at, b"It "))
    incremental = engine.check(document, state=state)
    assert len(seen) == 2  # no member's rules ran again
    assert incremental.findings == engine.check(document, state=DocumentState()).findings


def test_typing_in_a_component_attr_reruns_no_other_members_rules():
    """Phoenix.Component's `attr`/`slot` lines are no header fact either."""
    engine = Engine()
    source = (
        "defmodule W.C do\n  use Phoenix.Component\n  attr :x, :any\n  def a(assigns), do: ~H\"<p>{@x}</p>\"\n"
        "  def b(x), do: String.to_atom(x)\nend\n"
    )
    document = Document("lib/w/c.ex", source)
    state = DocumentState()
    engine.check(document, state=state)
    digests = {key[2] for caches in state.caches.values() for key in caches if len(key) > 2}
    at = document.data.index(b":any")
    document.apply(TextChange(at, at + 4, b":map, required: true"))
    incremental = engine.check(document, state=state)
    assert {key[2] for caches in state.caches.values() for key in caches if len(key) > 2} == digests
    assert incremental.findings == engine.check(document, state=DocumentState()).findings


def test_module_scope_facts_are_read_again_only_for_the_edited_member():
    """Context.member_facts: a keystroke re-reads the member it changed, the others' facts
    are found by their bytes."""
    from exhort.rule import Context

    reads: list[bytes] = []

    def extract(member):
        reads.append(member.text)
        return member.text.count(b"call")

    source = "defmodule S do\n" + "".join(f"  def f{n}(x), do: GenServer.call(x, {n})\n" for n in range(40)) + "end\n"
    document = Document("lib/s.ex", source)
    state = DocumentState()
    facts = Context(document, ProjectPath.of("lib/s.ex", None), None, {}, state.member_facts).member_facts(
        document.tree.root_node.children[0], extract)
    assert len(reads) == 40 and sum(found for _, found in facts) == 40
    reads.clear()
    at = document.data.index(b"def f7")
    document.apply(TextChange(at, at, b"@doc false\n  "))
    ctx = Context(document, ProjectPath.of("lib/s.ex", None), None, {}, state.member_facts)
    facts = ctx.member_facts(document.tree.root_node.children[0], extract)
    assert reads == [b"@doc false"]
    assert [member.start_byte for member, _ in facts][8] == document.data.index(b"def f7")


GENSERVER_SEED = (
    "defmodule App.Server do\n  use GenServer\n"
    "  def start_link(arg), do: GenServer.start_link(__MODULE__, arg, name: __MODULE__)\n"
    "  def get, do: GenServer.call(__MODULE__, :get)\n"
    "  def init(n), do: {:ok, n}\n"
    "  def handle_call(:refresh, _from, state), do: {:reply, get(), state}\n"
    "  def handle_info({:tick, _}, state) do\n    Process.monitor(self())\n    {:noreply, state}\n  end\n"
    # a member of a few thousand lines (a data literal): searched for anchors in chunks
    "  def table do\n    [\n" + "".join(f"      %{{name: String.to_atom(x{n}), n: {n}}},\n" for n in range(700))
    + "    ]\n  end\n"
    "  def handle_cast(:go, state), do: (Task.async(fn -> get() end); {:noreply, state})\nend\n"
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**31), st.lists(st.sampled_from(INCREMENTAL_PIECES), max_size=3),
                          st.booleans()), min_size=1, max_size=10))
def test_incremental_module_scope_checks_equal_checks_from_scratch(steps):
    """The same as above for a GenServer (module-scope rules folding per-member facts) with a
    member big enough to be searched in chunks."""
    engine = Engine()
    state = DocumentState()
    document = Document("lib/app/server.ex", GENSERVER_SEED)
    first = engine.check(document, state=state)
    assert {"OTP006", "SEC001"} <= set(codes(first))
    for seed, pieces, check_now in steps:
        apply_random_edit(document, seed, pieces)
        if check_now:
            assert engine.check(document, state=state).findings == engine.check(document, state=DocumentState()).findings


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text("abT._?", min_size=1, max_size=4), min_size=1, max_size=6, unique=True),
    st.lists(st.text("ab:.", min_size=1, max_size=3), max_size=3, unique=True),
    st.text("abT._?! :\n", max_size=60),
)
def test_literal_search_finds_what_the_equivalent_regex_finds(words, others, text):
    """exhort.matching.LiteralSearch (Aho-Corasick) against the regex it stands for: names
    as whole tokens, other literals anywhere, leftmost and longest first, no overlaps."""
    import re

    from exhort.matching import LiteralSearch

    words = [w.encode() for w in words if w[0] not in "._?" and "?" not in w[:-1]]
    others = [o.encode() for o in others if o.encode() not in words]
    if not words and not others:
        return

    def alternation(literals):
        return b"(?:" + b"|".join(re.escape(lit) for lit in sorted(literals, key=len, reverse=True)) + b")"

    parts = ([rb"\b" + alternation(words) + rb"(?![A-Za-z0-9_?!])"] if words else []) + (
        [alternation(others)] if others else [])
    regex = re.compile(b"|".join(parts))
    data = text.encode()
    expected = [(m.start(), m.end(), m.group()) for m in regex.finditer(data)]
    assert LiteralSearch(words, others).find(data) == expected
