"""OTP009's lone unsupervised spawn: information where code serves requests, a hint elsewhere."""

from __future__ import annotations

import pytest

from exhort.config import Config
from exhort.document import Document
from exhort.engine import Engine
from exhort.findings import Severity


@pytest.mark.parametrize(("header", "severity"), [
    ("defmodule AppWeb.PageController do\n  use AppWeb, :controller\n", Severity.INFORMATION),
    ("defmodule AppWeb.ShopLive do\n  use Phoenix.LiveView\n", Severity.INFORMATION),
    ("defmodule App.Mailer.Worker do\n  use Oban.Worker\n", Severity.INFORMATION),
    ("defmodule App.Cache do\n", Severity.HINT),
])
def test_a_lone_spawn_is_information_only_where_requests_are_served(header, severity):
    source = header + "  def ping(x) do\n    Task.start(fn -> notify(x) end)\n    :ok\n  end\nend\n"
    findings = Engine(Config(select=("OTP009",))).check(Document("lib/app/thing.ex", source)).findings
    assert [(f.code, f.severity) for f in findings] == [("OTP009", severity)]
