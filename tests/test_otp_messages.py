"""What the OTP findings say and how loud they are, where it depends on context (issue 14:
messages true in context, severities re-judged against real code). Checked end to end through
the engine, as editors and the CLI receive them."""

from __future__ import annotations

import textwrap

from exhort.config import Config
from exhort.document import Document
from exhort.engine import Engine
from exhort.findings import Severity
from exhort.workspace import WorkspaceIndex

ROOT = "/workspace/app"
APPLICATION = """
defmodule MyApp.Application do
  use Application
  def start(_type, _args), do: Supervisor.start_link([MyApp.Repo], strategy: :one_for_one)
end
"""


def findings(code: str, source: str, path: str = "lib/my_app/example.ex", files: dict[str, str] | None = None):
    index = WorkspaceIndex(root_finder=lambda _path: ROOT)
    for other_path, other in (files or {}).items():
        index.update(Document(f"{ROOT}/{other_path}", textwrap.dedent(other)))
    document = Document(f"{ROOT}/{path}", textwrap.dedent(source).lstrip("\n"))
    index.update(document)
    result = Engine(Config(select=(code,))).check(document, index)
    return [(document.lines.line_of(f.start) + 1, f.severity, f.message) for f in result.findings if f.code == code]


def test_a_spec_given_to_start_child_makes_the_call_fail_not_the_boot():
    found = findings("OTP003", """
        defmodule MyApp.Rooms do
          def open(id), do: DynamicSupervisor.start_child(MyApp.RoomSup, %{id: id, start: {MyApp.Room, :start_link, [id]}, restart: :transeint})
          def add(id), do: Supervisor.start_child(MyApp.Sup, Supervisor.child_spec({MyApp.Room, id}, shutdown: -1))
          def children, do: Supervisor.start_link([%{id: :a, start: {MyApp.A, :start_link, []}, type: :wroker}], strategy: :one_for_one)
        end
        """)
    messages = {line: message for line, _severity, message in found}
    assert "DynamicSupervisor.start_child returns {:error, ...}" in messages[2]
    assert "start_child returns {:error, ...}" in messages[3] and "fails to start" not in messages[3]
    assert messages[4].endswith("the parent supervisor fails to start")


def test_a_dynamic_supervisor_rejects_significant_whatever_the_restart():
    found = findings("OTP003", """
        defmodule MyApp.Rooms do
          def open(id) do
            DynamicSupervisor.start_child(MyApp.RoomSup, Supervisor.child_spec({MyApp.Room, id}, restart: :transient, significant: true))
          end
        end
        """)
    assert [(line, "whatever the restart value" in message) for line, _severity, message in found] == [(3, True)]


def test_a_stray_use_is_to_be_deleted_not_supervised():
    found = findings("OTP014", """
        defmodule MyApp.Settings do
          use Agent
          def locale, do: "en"
        end

        defmodule MyApp.Cache do
          use Agent
          def start_link(_), do: Agent.start_link(fn -> %{} end, name: __MODULE__)
        end
        """, files={"lib/my_app/application.ex": APPLICATION})
    messages = {line: (severity, message) for line, severity, message in found}
    assert messages[2][0] is Severity.INFORMATION and "remove the `use` line" in messages[2][1]
    assert messages[7][0] is Severity.HINT and "unsupervised or unused" in messages[7][1]


def test_a_spawn_in_an_unbounded_loop_is_a_warning_a_single_one_a_hint():
    found = findings("OTP009", """
        defmodule MyApp.Mailer do
          def one(user), do: Task.start(fn -> deliver(user) end)
          def all(users), do: Enum.each(users, fn user -> Task.start(fn -> deliver(user) end) end)
        end
        """)
    assert [(line, severity) for line, severity, _message in found] == [(2, Severity.HINT), (3, Severity.WARNING)]


def test_subscriptions_alone_are_a_hint_definite_sources_information():
    subscribed = findings("OTP013", """
        defmodule MyApp.Feed do
          use GenServer

          def init(_) do
            Phoenix.PubSub.subscribe(MyApp.PubSub, "posts")
            {:ok, []}
          end

          def handle_info({:post, post}, state), do: {:noreply, [post | state]}
        end
        """)
    monitored = findings("OTP013", """
        defmodule MyApp.Watch do
          use GenServer

          def init(pid) do
            Phoenix.PubSub.subscribe(MyApp.PubSub, "posts")
            Process.monitor(pid)
            {:ok, pid}
          end

          def handle_info({:post, _post}, state), do: {:noreply, state}
        end
        """)
    assert [(line, severity) for line, severity, _message in subscribed] == [(9, Severity.HINT)]
    assert [(line, severity) for line, severity, _message in monitored] == [(10, Severity.INFORMATION)]
    assert "Process.monitor" in monitored[0][2]


def test_infinite_timeouts_run_only_when_named():
    from exhort.registry import default_registry

    assert "OTP011" not in Config().enabled_codes(default_registry())
    assert "OTP011" not in Config(select=("OTP",)).enabled_codes(default_registry())
    assert "OTP011" in Config(select=("OTP011",)).enabled_codes(default_registry())
