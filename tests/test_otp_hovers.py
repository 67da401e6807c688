"""The OTP hover providers: option references (catalog 6.5-6.7) and "who starts this module?"."""

from __future__ import annotations

from exhort.document import Document
from exhort.project import ProjectPath
from exhort.rule import Context
from exhort.workspace import WorkspaceIndex
from exhort_rules.otp.options import otp_options_hover
from exhort_rules.otp.otp014_unsupervised_process_module import who_starts_hover

ROOT = "/workspace/app"


def _hover(provider, source: str, needle: str, files: dict[str, str] | None = None, path: str = "lib/x.ex"):
    index = WorkspaceIndex(root_finder=lambda _p: ROOT)
    document = Document(f"{ROOT}/{path}", source)
    for other, text in (files or {}).items():
        index.update(Document(f"{ROOT}/{other}", text))
    index.update(document)
    offset = source.index(needle)
    node = document.tree.root_node.named_descendant_for_byte_range(offset, offset)
    ctx = Context(document, ProjectPath.of(document.path, ROOT), index, {})
    return provider(ctx, node)


def test_supervisor_option_hover():
    source = "defmodule A do\n  def init(_), do: Supervisor.init([], strategy: :one_for_one, max_restarts: 3)\nend\n"
    text = _hover(otp_options_hover, source, "max_restarts")
    assert text is not None and "`3`" in text and "boot" in text
    assert "required" in _hover(otp_options_hover, source, "strategy")


def test_child_spec_and_timeout_hovers():
    use = "defmodule A do\n  use GenServer, restart: :transient\nend\n"
    assert ":transient" in _hover(otp_options_hover, use, "restart")
    call = "defmodule A do\n  def f(s), do: GenServer.call(s, :x)\nend\n"
    assert "5_000" in _hover(otp_options_hover, call, "call(")
    assert _hover(otp_options_hover, "defmodule A do\n  def f(x), do: Keyword.get(x, :a)\nend\n", "get") is None


def test_who_starts_hover():
    app = (
        "defmodule MyApp.Application do\n  use Application\n  def start(_, _) do\n"
        "    children = [MyApp.Cache]\n    Supervisor.start_link(children, strategy: :one_for_one)\n  end\nend\n"
    )
    cache = "defmodule MyApp.Cache do\n  use GenServer\nend\n"
    text = _hover(who_starts_hover, cache, "GenServer", {"lib/my_app/application.ex": app}, path="lib/my_app/cache.ex")
    assert text is not None and "lib/my_app/application.ex:4" in text and "children list" in text
    orphan = "defmodule MyApp.Orphan do\n  use Agent\nend\n"
    text = _hover(who_starts_hover, orphan, "Agent", {"lib/my_app/application.ex": app}, path="lib/my_app/orphan.ex")
    assert text is not None and "No children list" in text


def _otp014(files: dict[str, str], path: str, roots):
    from exhort.config import Config
    from exhort.engine import Engine

    index = WorkspaceIndex(root_finder=roots)
    documents = {p: Document(f"{ROOT}/{p}", s) for p, s in files.items()}
    for document in documents.values():
        index.update(document)
    result = Engine(Config(select=("OTP014",))).check(documents[path], index)
    return [f for f in result.findings if f.code == "OTP014"]


def test_unsupervised_module_in_a_path_dependency_without_application():
    """A nested mix project (a path dependency) with no `use Application` of its own: its
    process modules are started by its users, not by the outer project's application."""
    app = "defmodule MyApp.Application do\n  use Application\n  def start(_, _) do\n    children = []\n    Supervisor.start_link(children, strategy: :one_for_one)\n  end\nend\n"
    files = {
        "mix.exs": "defmodule MyApp.MixProject do\n  use Mix.Project\nend\n",
        "lib/my_app/application.ex": app,
        "lib/my_app/orphan.ex": "defmodule MyApp.Orphan do\n  use GenServer\nend\n",
        "deps_local/lib/lib_x/server.ex": "defmodule LibX.Server do\n  use GenServer\nend\n",
    }

    def roots(path):
        return f"{ROOT}/deps_local" if "/deps_local/" in path else ROOT

    assert _otp014(files, "deps_local/lib/lib_x/server.ex", roots) == []
    assert len(_otp014(files, "lib/my_app/orphan.ex", roots)) == 1


def test_who_starts_hover_names_a_module_handed_to_a_start_function():
    shards = "defmodule MyApp.Shards do\n  def start_link(opts), do: MyApp.ShardSup.start_link(MyApp.Shard, opts)\nend\n"
    shard = "defmodule MyApp.Shard do\n  use GenServer\nend\n"
    text = _hover(who_starts_hover, shard, "GenServer", {"lib/my_app/shards.ex": shards}, path="lib/my_app/shard.ex")
    assert text is not None and "lib/my_app/shards.ex:2" in text and "passed to MyApp.ShardSup.start_link" in text
