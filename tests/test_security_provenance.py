"""The input rules grade their findings by where the value comes from: request data at the
rule's severity, what exhort cannot trace lower, known values not at all (issue 14)."""

from __future__ import annotations

import textwrap

import pytest

from exhort.config import Config
from exhort.document import Document
from exhort.engine import Engine
from exhort.findings import Severity
from exhort.workspace import WorkspaceIndex

ROOT = "/workspace/app"


def findings(code: str, source: str, path: str = "lib/my_app/thing.ex", files: dict[str, str] | None = None):
    """(line, severity) of each finding of `code` in `source`, checked as the CLI would."""
    engine = Engine(Config(select=(code,)))
    index = WorkspaceIndex(root_finder=lambda _path: ROOT)
    documents = {}
    for name, text in {**(files or {}), path: textwrap.dedent(source).lstrip("\n")}.items():
        documents[name] = Document(f"{ROOT}/{name}", text)
        index.update(documents[name])
    document = documents[path]
    result = engine.check(document, index)
    return sorted(
        (document.lines.line_of(f.start) + 1, f.severity) for f in result.findings if f.code == code
    )


@pytest.mark.parametrize(
    ("body", "severity"),
    [
        ('def index(conn, params), do: String.to_atom(params["status"])', Severity.WARNING),
        ('def handle_event("sort", %{"dir" => dir}, socket), do: {:noreply, assign(socket, :dir, String.to_atom(dir))}', Severity.WARNING),
        ('def tag(body), do: body |> Jason.decode!() |> Map.fetch!("tag") |> String.to_atom()', Severity.WARNING),
        ("def name(scope), do: :\"#{scope}_forum\"", Severity.HINT),
        ("def field(name), do: String.to_atom(name)", Severity.HINT),
    ],
)
def test_sec001_warns_on_request_data_and_hints_on_what_it_cannot_trace(body, severity):
    source = f"defmodule MyAppWeb.ThingController do\n  {body}\nend\n"
    assert findings("SEC001", source) == [(2, severity)]


REPO = {"lib/my_app/repo.ex": "defmodule MyApp.Repo do\n  use Ecto.Repo, otp_app: :my_app, adapter: Ecto.Adapters.Postgres\nend\n"}


@pytest.mark.parametrize(
    ("body", "severity"),
    [
        ('def index(conn, params), do: MyApp.Repo.query!("SELECT * FROM t WHERE tag = \'#{params["tag"]}\'")', Severity.ERROR),
        ('def index(conn, %{"sort" => sort}), do: MyApp.Repo.query!("SELECT * FROM #{sort}")', Severity.ERROR),
        ("def by(email), do: MyApp.Repo.query!(\"SELECT * FROM users WHERE email = '#{email}'\")", Severity.ERROR),
        ('def count(table), do: MyApp.Repo.query!("SELECT count(*) FROM #{table}")', Severity.HINT),
        ("def part(c), do: MyApp.Repo.query(\"CREATE TABLE p_#{c.seq} PARTITION OF events FOR VALUES IN ('#{c.id}')\")", Severity.HINT),
    ],
)
def test_sec002_grades_by_what_reaches_the_sql(body, severity):
    source = f"defmodule MyAppWeb.ThingController do\n  {body}\nend\n"
    assert findings("SEC002", source, files=REPO) == [(2, severity)]


def test_sec002_in_a_migration_is_a_hint():
    source = """
    defmodule MyApp.Repo.Migrations.Backfill do
      use Ecto.Migration
      def up, do: execute("UPDATE posts SET state = '#{default_state()}'")
    end
    """
    assert findings("SEC002", source, path="priv/repo/migrations/20240101_backfill.exs") == [(3, Severity.HINT)]


@pytest.mark.parametrize(
    ("body", "severity"),
    [
        ('def read(conn, params), do: :erlang.binary_to_term(Base.decode64!(params["state"]), [:safe])', Severity.WARNING),
        ("def read(body) do\n    %{\"data\" => data} = Jason.decode!(body)\n    :erlang.binary_to_term(data)\n  end", Severity.WARNING),
        ("def read(path), do: path |> File.read!() |> :erlang.binary_to_term()", Severity.HINT),
    ],
)
def test_sec005_warns_on_request_data_and_hints_on_what_it_cannot_trace(body, severity):
    source = f"defmodule MyAppWeb.StateController do\n  {body}\nend\n"
    assert [s for _line, s in findings("SEC005", source)] == [severity]
