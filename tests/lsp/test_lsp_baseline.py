"""Baselined findings in the editor: faded to hints, or hidden, as the settings say."""

from __future__ import annotations

import subprocess
import sys

import pytest
import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_helpers import SERVER_COMMAND, Recorder, accept_registrations, initialize, open_document, write_project

ACCEPTED = """\
defmodule Sample.Kinds do
  def kind(params), do: String.to_atom(params["kind"])
end
"""
WITH_A_NEW_ONE = """\
defmodule Sample.Kinds do
  def kind(params), do: String.to_atom(params["kind"])

  def label(params), do: String.to_atom(params["label"])
end
"""


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient):
    lsp_client.registrations = accept_registrations(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.parametrize(("show", "expected"), [
    ("hint", [(1, t.DiagnosticSeverity.Hint), (3, t.DiagnosticSeverity.Warning)]),
    ("hidden", [(3, t.DiagnosticSeverity.Warning)]),
])
async def test_accepted_findings_fade_or_hide_and_new_ones_show(client: LanguageClient, tmp_path, show, expected):
    root = write_project(tmp_path, {"lib/sample/kinds.ex": ACCEPTED})
    recorded = subprocess.run(
        [sys.executable, "-m", "exhort", "check", "--baseline", "exhort-baseline.json", "--update-baseline"],
        cwd=root, capture_output=True, text=True, timeout=120,
    )
    assert (root / "exhort-baseline.json").exists(), recorded.stderr
    await initialize(client, "visual-studio-code", root,
                     options={"exhort": {"baseline": "exhort-baseline.json", "baselineFindings": show}})
    recorder = Recorder(client)
    uri = (root / "lib/sample/kinds.ex").as_uri()
    open_document(client, uri, WITH_A_NEW_ONE)
    published = await recorder.wait(uri, 1)
    seen = sorted((d.range.start.line, d.severity) for d in published.diagnostics if d.code == "SEC001")
    assert seen == expected
