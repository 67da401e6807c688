"""OBN005 through the engine: a lost retry is an error, a branch that returns nil a warning."""

from __future__ import annotations

from engine_findings import findings
from exhort.findings import Severity

WORKER = """
defmodule MyApp.Purger do
  use Oban.Worker

  def perform(%Oban.Job{args: %{"post_id" => id}}) do
    post = MyApp.Repo.get(MyApp.Post, id)

    if post.image do
      purge(post.image)
    end
  end

  def perform(%Oban.Job{args: _}), do: :error
end
"""


def test_an_if_without_else_is_a_warning_and_a_bare_error_an_error():
    found = findings("OBN005", {"lib/my_app/purger.ex": WORKER}, "lib/my_app/purger.ex")
    assert [(line, f.severity) for line, f in found] == [(7, Severity.WARNING), (12, Severity.ERROR)]
    assert "end the branch with :ok" in found[0][1].message
