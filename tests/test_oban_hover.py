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


CALLBACKS = """defmodule MyApp.Worker do
  use Oban.Worker

  def perform(_job), do: :ok
  def backoff(_job), do: 30
  def timeout(_job), do: :timer.seconds(30)
end
"""


def test_backoff_is_seconds_and_timeout_milliseconds():
    assert "**seconds**" in _hover(CALLBACKS, "backoff")
    assert "**milliseconds**" in _hover(CALLBACKS, "timeout")


def test_perform_returns_cover_exceptions_and_snooze_units():
    text = _hover(SOURCE, "perform")
    assert "exception" in text and "week(s)" in text


def test_new_option_lists_the_valid_keys():
    text = _hover(SOURCE, "schedule_in:")
    assert "`replace_args`" in text and "`attempted_at`" in text and "is_map(args)" in text


def test_cron_plugin_options():
    config = (
        'import Config\nconfig :my_app, Oban,\n  plugins: [{Oban.Plugins.Cron, timezone: "Etc/UTC", '
        'crontab: [{"0 2 * * *", MyApp.Nightly}]}]\n'
    )
    path = "/app/config/config.exs"
    assert "**0-6**" in _hover(config, "crontab:", path)
    assert "tz database" in _hover(config, "timezone:", path)


def test_perform_outside_a_worker_is_silent():
    source = "defmodule MyApp.Calc do\n  def perform(x), do: x\nend\n"
    assert _hover(source, "perform") is None
    assert _hover("defmodule MyApp.Calc do\n  def backoff(_), do: 1\nend\n", "backoff") is None
