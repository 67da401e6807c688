"""ECT005 in an editor session: the check runs per function of the migration (so a half-typed
function elsewhere does not silence it), and an index added in another function still clears
the finding once the workspace index has the file's new facts."""

from __future__ import annotations

from exhort.config import Config
from exhort.document import Document
from exhort.engine import DocumentState, Engine
from exhort.workspace import WorkspaceIndex

PATH = "/workspace/app/priv/repo/migrations/20240101000000_create_comments.exs"
MIGRATION = """defmodule MyApp.Repo.Migrations.CreateComments do
  use Ecto.Migration

  def change do
    create table(:comments) do
      add :post_id, references(:posts)
    end

    add_indexes()
  end

  defp add_indexes do
    create index(:comments, [:inserted_at])
  end
end
"""


def lines(result, document):
    return [document.lines.line_of(f.start) + 1 for f in result.findings if f.code == "ECT005"]


def test_an_index_added_in_another_function_clears_the_cached_finding():
    engine = Engine(Config(select=("ECT005",)))
    index = WorkspaceIndex(root_finder=lambda _path: "/workspace/app")
    state = DocumentState()
    document = Document(PATH, MIGRATION)
    index.update(document)
    assert lines(engine.check(document, index, state=state), document) == [6]

    line = MIGRATION.splitlines().index("    create index(:comments, [:inserted_at])")
    document.apply_range_edit(line, 30, line, 41, "post_id", "utf-16")
    index.update(document)  # what the server does once typing pauses
    assert lines(engine.check(document, index, state=state), document) == []

    document.apply_range_edit(line, 30, line, 37, "inserted_at", "utf-16")
    index.update(document)
    assert lines(engine.check(document, index, state=state), document) == [6]
