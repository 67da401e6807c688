"""Where code runs (exhort.execution): the place that run-time-risk rules consult."""

from __future__ import annotations

import textwrap

import pytest

from exhort.document import Document
from exhort.execution import Runs, runs
from exhort.project import ProjectPath


def where(source: str, marker: str, path: str = "lib/app/thing.ex") -> Runs:
    """Where the call `marker(...)` in `source` runs."""
    source = textwrap.dedent(source).lstrip("\n")
    document = Document(path, source)
    offset = source.index(marker)
    node = document.tree.root_node.descendant_for_byte_range(offset, offset)
    return runs(document, ProjectPath.of(path, None), node)


PLAIN = """
defmodule App.Thing do
  def call(x), do: target(x)
end
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("lib/app/thing.ex", Runs.PRODUCTION),
        ("test/app/thing_test.exs", Runs.TEST),
        ("test/support/data_case.ex", Runs.TEST),
        ("lib/mix/tasks/app.sync.ex", Runs.BUILD),
        ("mix.exs", Runs.BUILD),
        ("priv/repo/migrations/20240101_add.exs", Runs.MIGRATION),
        ("lib/app/repo/migrations/v01.ex", Runs.MIGRATION),
        ("priv/repo/seeds.exs", Runs.OPERATOR),
        ("lib/app/seeds/seeds_dev.ex", Runs.OPERATOR),
        ("config/config.exs", Runs.CONFIG),
        ("scripts/backfill.exs", Runs.BUILD),
    ],
)
def test_the_path_decides_first(path, expected):
    assert where(PLAIN, "target", path) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("defmodule App.DataCase do\n  use ExUnit.CaseTemplate\n", Runs.TEST),
        ("defmodule App.Factory do\n  use ExMachina.Ecto, repo: App.Repo\n", Runs.TEST),
        ("defmodule App.Testing do\n", Runs.TEST),
        ("defmodule App.Release do\n", Runs.OPERATOR),
        ("defmodule App.DataMigrations.Backfill do\n", Runs.OPERATOR),
        ("defmodule App.Debug do\n", Runs.OPERATOR),
        ("defmodule App.Debugger do\n", Runs.PRODUCTION),
        ("defmodule App.AdminTasks do\n", Runs.OPERATOR),
        ("defmodule Mix.Tasks.App.Sync do\n", Runs.BUILD),
        ("defmodule App.Tasks do\n  use Mix.Task\n", Runs.BUILD),
        ("defmodule App.Migrations.V1 do\n  use Ecto.Migration\n", Runs.MIGRATION),
        ("defmodule App.Latest do\n", Runs.PRODUCTION),
        ("defmodule App.Tester do\n", Runs.PRODUCTION),
    ],
)
def test_the_module_name_and_uses_decide_next(header, expected):
    source = header + "  def call(x), do: target(x)\nend\n"
    assert where(source, "target") is expected


def test_macro_bodies_quote_attributes_and_module_body_run_at_compile_time():
    source = """
    defmodule App.Macros do
      @names Enum.map(~w(a b), &attr_target/1)
      body_target()

      defmacro __using__(opts) do
        macro_target(opts)
        quote do
          def generated(x), do: quoted_target(x)
        end
      end

      def run(x), do: run_target(x)
    end
    """
    assert where(source, "attr_target") is Runs.COMPILE_TIME
    assert where(source, "body_target") is Runs.COMPILE_TIME
    assert where(source, "macro_target") is Runs.COMPILE_TIME
    assert where(source, "quoted_target") is Runs.COMPILE_TIME
    assert where(source, "run_target") is Runs.PRODUCTION


def test_unquote_fragments_run_at_compile_time_and_the_generated_body_at_run_time():
    source = """
    defmodule App.Sizes do
      for size <- ~w(small large) do
        def unquote(fragment_target(size))(), do: body_target(unquote(size))
      end
    end
    """
    assert where(source, "fragment_target") is Runs.COMPILE_TIME
    assert where(source, "body_target") is Runs.PRODUCTION


def test_private_helpers_only_macros_call_run_at_compile_time():
    source = """
    defmodule App.Schema do
      defmacro field_names(fields), do: build(fields)

      defp build(fields), do: Enum.map(fields, &deeper/1)
      defp deeper(field), do: deep_target(field)

      defp shared(x), do: shared_target(x)
      defmacro other(x), do: shared(x)
      def at_run_time(x), do: shared(x)

      defp unused(x), do: unused_target(x)
    end
    """
    assert where(source, "deep_target") is Runs.COMPILE_TIME
    assert where(source, "Enum.map") is Runs.COMPILE_TIME
    assert where(source, "shared_target") is Runs.PRODUCTION
    assert where(source, "unused_target") is Runs.PRODUCTION


def test_helpers_in_a_module_without_macros_are_run_time():
    source = """
    defmodule App.Plain do
      def a(x), do: helper(x)
      defp helper(x), do: helper_target(x)
    end
    """
    assert where(source, "helper_target") is Runs.PRODUCTION


def test_a_nested_module_takes_its_own_name():
    source = """
    defmodule App do
      defmodule Release do
        def migrate, do: nested_target()
      end
      def serve, do: outer_target()
    end
    """
    assert where(source, "nested_target") is Runs.OPERATOR
    assert where(source, "outer_target") is Runs.PRODUCTION


def risky_call_rule():
    """A production-only rule that flags every `risky()` call."""
    from exhort.findings import Severity
    from exhort.rule import Rule, bad, good

    rule = Rule(
        code="TST002", name="production-only", category="test", severity=Severity.WARNING,
        summary="flags risky()", explanation="## TST002\n", runs_in=frozenset({Runs.PRODUCTION}),
        query='((call target: (identifier) @name) @call (#eq? @name "risky"))',
        examples=[bad("risky()  # expect: TST002"), good("1")],
    )
    rule.pack = "test"
    rule.check(lambda ctx, match: [ctx.finding(match.node("call"), "risky")])
    return rule


def test_a_rule_that_names_where_its_risk_exists_is_silent_elsewhere():
    from exhort.config import Config
    from exhort.engine import Engine
    from exhort.registry import Registry

    rule = risky_call_rule()
    engine = Engine(Config(), Registry([rule]))
    source = textwrap.dedent(
        """
        defmodule App.Thing do
          @table risky()
          defmacro m, do: risky()
          def f, do: risky()
        end
        """
    ).lstrip()
    lines = [source.count("\n", 0, f.start) + 1 for f in engine.check(Document("lib/app/thing.ex", source)).findings]
    assert lines == [4]
    assert engine.check(Document("test/app/thing_test.exs", source)).findings == []


def test_the_configuration_can_widen_where_a_rule_reports():
    from exhort.config import ConfigError, parse_config
    from exhort.engine import Engine
    from exhort.registry import Registry

    rule = risky_call_rule()
    registry = Registry([rule])
    source = "defmodule App.ThingTest do\n  def f, do: risky()\nend\n"
    test_file = Document("test/app/thing_test.exs", source)

    assert Engine(parse_config("", registry), registry).check(test_file).findings == []
    widened = parse_config('[rules.TST002]\nruns-in = ["production", "test"]\n', registry)
    assert len(Engine(widened, registry).check(test_file).findings) == 1
    with pytest.raises(ConfigError, match="unknown place 'tests'.*did you mean 'test'"):
        parse_config('[rules.TST002]\nruns-in = ["tests"]\n', registry)


def test_a_rule_is_not_run_on_a_file_that_runs_only_where_it_does_not_report():
    """Its findings there would all be dropped: the check is not run (files under test/ are
    about a quarter of a project's files and nearly half its bytes)."""
    from exhort.config import Config, parse_config
    from exhort.engine import Engine
    from exhort.registry import Registry

    rule = risky_call_rule()
    calls = []
    flag = rule._check
    rule.check(lambda ctx, match: calls.append(ctx.path.relative) or flag(ctx, match))
    registry = Registry([rule])
    source = "defmodule App.ThingTest do\n  def f, do: risky()\nend\n"
    assert Engine(Config(), registry).check(Document("test/app/thing_test.exs", source)).findings == []
    assert Engine(Config(), registry).check(Document("priv/repo/migrations/1_x.exs", source)).findings == []
    assert calls == []
    assert len(Engine(Config(), registry).check(Document("lib/app/thing.ex", source)).findings) == 1
    widened = parse_config('[rules.TST002]\nruns-in = ["production", "test"]\n', registry)
    assert len(Engine(widened, registry).check(Document("test/app/thing_test.exs", source)).findings) == 1
    assert calls == ["lib/app/thing.ex", "test/app/thing_test.exs"]
