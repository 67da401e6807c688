"""The Oban hover option reference (rules/oban/options.py)."""

from exhort.document import Document
from exhort.rule import Context
from exhort.project import ProjectPath

from rules.oban.options import oban_hover

SOURCE = """defmodule MyApp.Worker do
  use Oban.Worker, queue: :mailers, unique: [period: 60]

  def perform(_job), do: :ok
  def later(args), do: new(args, schedule_in: 60)
end
"""


def _hover(source: str, needle: str, path: str = "/app/lib/x.ex"):
    document = Document(path, source)
    ctx = Context(document, ProjectPath.of(path, "/app"), None, {})
    offset = source.index(needle)
    node = document.tree.root_node.named_descendant_for_byte_range(offset, offset + 1)
    return oban_hover(ctx, node)


def test_worker_option():
    assert "default `:default`" in _hover(SOURCE, "queue:")


def test_unique_option():
    assert "seconds" in _hover(SOURCE, "period:")


def test_new_option():
    assert "job option" in _hover(SOURCE, "schedule_in:")


def test_perform_returns():
    assert "{:cancel, reason}" in _hover(SOURCE, "perform")


def test_config_option():
    config = "import Config\nconfig :my_app, Oban, queues: [default: 10]\n"
    assert "Oban instance config" in _hover(config, "queues:", "/app/config/config.exs")


def test_unrelated_keyword_is_silent():
    assert _hover("Foo.bar(queue: 1)\n", "queue:") is None
