"""Workspace indexing through the facts cache (the CLI's, see exhort.cache): a second start
reads every unchanged file's facts from it, and they are the facts a fresh read gives; a
changed or damaged entry is read again. And facts read in a child process are the facts read
in the server (exhort.lsp.facts.ManyFacts)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from exhort import files
from exhort.cache import ResultCache
from exhort.document import Document
from exhort.lsp.facts import FactsProcess, ManyFacts
from exhort.workspace import WorkspaceIndex
from lsp_helpers import write_project
from raw_client import RawClient

SOURCES = {
    "lib/sample/application.ex": """
        defmodule Sample.Application do
          use Application

          def start(_type, _args) do
            children = [Sample.Cache, {Sample.Worker, interval: 5}, {Oban, Application.fetch_env!(:sample, Oban)}]
            Supervisor.start_link(children, strategy: :one_for_one, name: Sample.Supervisor)
          end
        end
    """,
    "lib/sample/cache.ex": """
        defmodule Sample.Cache do
          use GenServer

          def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

          @impl true
          def init(opts), do: {:ok, Map.new(opts)}
        end
    """,
    "lib/sample/worker.ex": """
        defmodule Sample.Worker do
          use Oban.Worker, queue: :default, max_attempts: 3

          @impl Oban.Worker
          def perform(%Oban.Job{args: %{"id" => id}}), do: Sample.Repo.get(Sample.User, id) && :ok
        end
    """,
    "lib/sample/live/page_live.ex": """
        defmodule SampleWeb.PageLive do
          use Phoenix.LiveView

          def mount(_params, _session, socket), do: {:ok, stream(socket, :items, [])}
          def render(assigns), do: ~H"<div :for={{id, item} <- @streams.items} id={id}>{item.name}</div>"
        end
    """,
    "priv/repo/migrations/20240101000000_create_users.exs": """
        defmodule Sample.Repo.Migrations.CreateUsers do
          use Ecto.Migration

          def change do
            create table(:users) do
              add :email, :string
            end

            create index(:users, [:email])
          end
        end
    """,
}


def _index_state(root: Path, cache: Path) -> tuple[dict, str]:
    """The index once complete (with the digest of every fact), and the server's log."""
    client = RawClient(cwd=root, env=dict(os.environ, EXHORT_CACHE_DIR=str(cache)))
    try:
        client.initialize(root.as_uri())
        deadline = time.monotonic() + 60
        while not (state := client.request("workspace/executeCommand", {"command": "exhort.debug.index"})["result"])["done"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        state["facts_digest"] = client.request("workspace/executeCommand", {"command": "exhort.debug.facts"})["result"]["digest"]
        # The facts cache is written after the index is complete.
        while not client.request("workspace/executeCommand", {"command": "exhort.debug.index"})["result"]["facts_stored"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        client.request("shutdown")
        client.notify("exit")
        client.process.wait(timeout=10)
        return state, b"".join(client.stderr).decode()
    finally:
        client.close()


def _from_cache(log: str) -> int:
    line = next(line for line in log.splitlines() if "indexed" in line and "from the facts cache" in line)
    return int(line.split(": ", 2)[2].split(" from the facts cache")[0])


def test_a_second_start_reads_the_facts_from_the_cache_and_they_are_the_same(tmp_path):
    (tmp_path / "project").mkdir()
    root = write_project(tmp_path / "project", SOURCES)
    cache = tmp_path / "cache"
    fresh, log = _index_state(root, cache)
    assert _from_cache(log) == 0
    assert {"Sample.Cache", "Sample.Worker", "SampleWeb.PageLive"} <= set(fresh["modules"])
    assert any(cache.rglob("*.json"))

    cached, log = _index_state(root, cache)
    assert _from_cache(log) == len(SOURCES) + 1  # and mix.exs
    assert cached["facts_digest"] == fresh["facts_digest"]
    assert (cached["modules"], cached["paths"]) == (fresh["modules"], fresh["paths"])


def test_a_changed_file_and_a_damaged_entry_are_read_again(tmp_path):
    (tmp_path / "project").mkdir()
    root = write_project(tmp_path / "project", SOURCES)
    cache = tmp_path / "cache"
    _index_state(root, cache)
    worker = root / "lib/sample/worker.ex"
    worker.write_text(worker.read_text().replace("Sample.Worker", "Sample.Mailer"))
    entry = ResultCache(cache)._path(str((root / "lib/sample/cache.ex").absolute()))
    entry.write_text("{not json")

    state, log = _index_state(root, cache)
    assert _from_cache(log) == len(SOURCES) + 1 - 2
    assert "Sample.Mailer" in state["modules"] and "Sample.Worker" not in state["modules"]
    assert "Sample.Cache" in state["modules"]
    # and what was read again is what a start with no cache reads
    assert state["facts_digest"] == _index_state(root, tmp_path / "other cache")[0]["facts_digest"]


def test_facts_read_in_a_child_process_are_the_facts_read_here(tmp_path):
    (tmp_path / "project").mkdir()
    root = write_project(tmp_path / "project", SOURCES)
    index = WorkspaceIndex(root_finder=files.project_root_for_file)
    texts = [(str(path), path.read_bytes()) for path in sorted(root.rglob("*.ex*")) if path.name != "mix.exs"]
    here = {path: index.extract(Document(path, data)) for path, data in texts}
    assert any(facts["otp_process_refs"] for facts in here.values())  # facts worth comparing

    child = FactsProcess()
    try:
        answers = child.extract_batch([(path, data, None) for path, data in texts])
    finally:
        child.close()
    assert [status for status, _facts in answers] == ["ok"] * len(texts)
    assert {path: facts for (path, _data), (_status, facts) in zip(texts, answers)} == here

    read: dict[str, dict] = {}
    many = ManyFacts(lambda path, data: index.extract(Document(path, data)), lambda path, facts, _slot: read.__setitem__(path, facts),
                     processes=1, start_after=1)
    for path, data in texts:
        many.add(path, data, None)
    many.finish()
    assert read == here
