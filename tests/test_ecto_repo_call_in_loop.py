"""ECT001 through the engine: how loud each kind of Repo call in a loop is, and when a data
helper counts as migration code."""

from __future__ import annotations

from engine_findings import findings
from exhort.findings import Severity


def check(files: dict[str, str], path: str) -> list[tuple[int, Severity]]:
    return [(line, finding.severity) for line, finding in findings("ECT001", files, path)]


WRITES = """
defmodule MyApp.Batches do
  alias MyApp.{Batch, Repo}

  def cancel_running(project_id) do
    running = project_id |> Batch.running() |> Repo.all()
    Enum.map(running, &Batch.changeset(&1, %{state: :canceled})) |> Enum.each(&Repo.update!/1)
  end

  def purge_waiting(project_id) do
    project_id |> Batch.waiting() |> Repo.all() |> Enum.each(&Repo.delete!/1)
  end

  def link(batch, patches) do
    Enum.each(patches, fn patch -> Repo.insert!(%MyApp.Link{batch_id: batch.id, patch_id: patch.id}) end)
  end

  def expire(project_id) do
    for batch <- Repo.all(Batch.for_project(project_id)) do
      if batch.expired?, do: Repo.delete!(batch)
    end
  end

  def per_batch(batches), do: Enum.map(batches, &Repo.all(MyApp.Patch.for_batch(&1.id)))
end
"""


def test_a_write_over_rows_a_query_loaded_is_information_other_writes_are_hints_reads_warn():
    assert check({"lib/my_app/batches.ex": WRITES}, "lib/my_app/batches.ex") == [
        (6, Severity.INFORMATION),  # Repo.all |> Enum.map |> Enum.each(&Repo.update!/1): update_all
        (10, Severity.INFORMATION),  # Repo.all |> Enum.each(&Repo.delete!/1): delete_all
        (14, Severity.HINT),  # changesets built in code: one insert each is usually the design
        (19, Severity.HINT),  # a conditional write per row
        (23, Severity.WARNING),  # a read per element: N+1
    ]


HELPER = """
defmodule MyApp.Settings do
  alias MyApp.Repo

  def rename_field(from, to) do
    for setting <- Repo.all(MyApp.Setting) do
      setting |> Ecto.Changeset.change(values: Map.delete(setting.values, from)) |> Repo.update!()
    end
  end
end
"""
MIGRATION = """
defmodule MyApp.Repo.Migrations.Rename do
  use Ecto.Migration
  def up, do: MyApp.Settings.rename_field("poll", "poll_ms")
end
"""


def test_a_helper_that_only_migrations_call_is_migration_code():
    files = {"lib/my_app/settings.ex": HELPER, "priv/repo/migrations/20240101000000_rename.exs": MIGRATION}
    assert check(files, "lib/my_app/settings.ex") == []


def test_a_helper_that_production_code_calls_too_still_counts():
    caller = "defmodule MyApp.Admin do\n  def rename(a, b), do: MyApp.Settings.rename_field(a, b)\nend\n"
    files = {
        "lib/my_app/settings.ex": HELPER,
        "priv/repo/migrations/20240101000000_rename.exs": MIGRATION,
        "lib/my_app/admin.ex": caller,
    }
    assert check(files, "lib/my_app/settings.ex") == [(6, Severity.INFORMATION)]


def test_without_a_migration_calling_it_the_helper_is_production_code():
    assert check({"lib/my_app/settings.ex": HELPER}, "lib/my_app/settings.ex") == [(6, Severity.INFORMATION)]


SAME_CHANGE = """
defmodule MyApp.Versions do
  alias MyApp.{Repo, Version}

  def fail_all(versions) do
    Enum.map(versions, fn version ->
      {:ok, updated} = version |> Version.changeset(%{status: :failed}) |> Repo.update()
      updated.id
    end)
  end

  def mark_synced(logins, users_by_login) do
    Enum.each(logins, fn login ->
      case users_by_login[login] do
        [user] -> user |> Ecto.Changeset.change(synced: true) |> Repo.update()
        _ -> :skip
      end
    end)
  end

  def finish(jobs) do
    Enum.each(jobs, fn job ->
      if job.done == job.total do
        job |> Ecto.Changeset.change(status: "success") |> Repo.update!()
        notify(job)
      end
    end)
  end

  def promote(members, roles) do
    Enum.each(members, fn member -> member |> Ecto.Changeset.change(role: roles[member.id]) |> Repo.update() end)
  end
end
"""


def test_the_same_literal_change_for_every_element_is_information_when_nothing_else_happens():
    assert check({"lib/my_app/versions.ex": SAME_CHANGE}, "lib/my_app/versions.ex") == [
        (6, Severity.INFORMATION),  # the same change for every version: update_all
        (14, Severity.INFORMATION),  # the same change in the one branch that writes
        (23, Severity.HINT),  # a notification per job too: per-element work by design
        (30, Severity.HINT),  # a change that differs per element
    ]
