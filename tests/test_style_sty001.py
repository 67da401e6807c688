"""STY001: debugging output (IO.inspect, dbg) is shown, deliberate-looking IO.puts is a hint."""

from __future__ import annotations

import textwrap

from exhort.config import Config
from exhort.document import Document
from exhort.engine import Engine
from exhort.findings import Severity
from exhort.workspace import WorkspaceIndex

SOURCE = """
defmodule MyApp.Billing do
  def charge(order) do
    IO.inspect(order, label: "order")
    IO.puts("charged")
    dbg(order)
  end
end
"""


def check(path: str, root: str):
    document = Document(path, textwrap.dedent(SOURCE).lstrip("\n"))
    index = WorkspaceIndex(root_finder=lambda _path: root)
    index.update(document)
    result = Engine(Config(select=("STY001",))).check(document, index)
    return [(document.lines.line_of(f.start) + 1, f.severity) for f in result.findings]


def test_inspect_and_dbg_are_information_and_puts_a_hint():
    assert check("/work/app/lib/my_app/billing.ex", "/work/app") == [
        (3, Severity.INFORMATION), (4, Severity.HINT), (5, Severity.INFORMATION)
    ]
