"""What the editor is shown, and when: every version's diagnostics are published (whatever
request came between the edit and its check), once, complete from the first publish; an
edit that changes the document's own workspace facts rechecks the document too; text the
client sends is never dropped."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_helpers import (
    SERVER_COMMAND,
    Recorder,
    accept_registrations,
    change,
    debug,
    did_change,
    initialize,
    one_write,
    open_document,
    quiet,
    request,
    write_project,
)

SAMPLE = """\
defmodule Sample.Filters do
  def filter(params) do
    status = String.to_atom(params["status"])
    IO.inspect(status, label: "x")
  end

  def any_expired?(expired), do: length(expired) > 0
end
"""
# Line 3 (IO.inspect, STY001) becomes a suppression comment that silences nothing: STY001
# goes at once, EXH001 comes only from the whole-document check.
UNUSED_SUPPRESSION = "    # exhort:disable-next-line OTP002\n"
AFTER_EDIT = ["EXH001", "PRF001", "SEC001"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient):
    lsp_client.registrations = accept_registrations(lsp_client)
    yield
    await lsp_client.shutdown_session()


def codes(diagnostics) -> list[str]:
    return sorted(str(d.code) for d in diagnostics)


def sample_project(tmp_path) -> tuple[object, str]:
    root = write_project(tmp_path, {"lib/sample/filters.ex": SAMPLE})
    return root, (root / "lib/sample/filters.ex").as_uri()


def interleaved_request(method: str, uri: str):
    document = t.TextDocumentIdentifier(uri)
    if method == t.TEXT_DOCUMENT_HOVER:
        return t.HoverParams(document, t.Position(2, 20))
    return t.CodeActionParams(document, t.Range(t.Position(2, 0), t.Position(3, 0)), t.CodeActionContext(diagnostics=[]))


# -- item 1: a request between an edit and its check --------------------------------------------


@pytest.mark.parametrize("method", [t.TEXT_DOCUMENT_HOVER, t.TEXT_DOCUMENT_CODE_ACTION])
async def test_push_a_request_in_the_same_write_as_the_edit(client: LanguageClient, tmp_path, method):
    root, uri = sample_project(tmp_path)
    await initialize(client, "visual-studio-code", root)
    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    await recorder.wait(uri, 1)
    await quiet(client)  # nothing planned any more that would publish the next version anyway
    with one_write(client):
        did_change(client, uri, 2, [change(3, 0, 4, 0, UNUSED_SUPPRESSION)])
        answer = request(client, method, interleaved_request(method, uri))
    await answer
    await recorder.wait(uri, 2)  # the version is published at all
    await quiet(client)
    last = [p for p in recorder.published if p.uri == uri][-1]
    assert last.version == 2 and codes(last.diagnostics) == AFTER_EDIT


def _pull_capabilities(refresh: bool) -> t.ClientCapabilities:
    capabilities = pytest_lsp.client_capabilities("neovim@v0.11.0")
    if refresh:
        capabilities.workspace.diagnostics = t.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    return capabilities


@pytest.mark.parametrize("refresh", [False, True], ids=["no-refresh", "refresh"])
@pytest.mark.parametrize("method", [t.TEXT_DOCUMENT_HOVER, t.TEXT_DOCUMENT_CODE_ACTION])
async def test_pull_a_request_in_the_same_write_as_the_edit(client: LanguageClient, tmp_path, method, refresh):
    """A pull client sees the complete set of the new version: in the report itself when it
    cannot be asked to pull again, else in the report it pulls after the refresh."""
    root, uri = sample_project(tmp_path)
    refreshes: list[None] = []
    original = client.protocol.fm.features[t.WORKSPACE_DIAGNOSTIC_REFRESH]
    client.protocol.fm.features[t.WORKSPACE_DIAGNOSTIC_REFRESH] = lambda *args: (refreshes.append(None), original(*args))[1]
    await client.initialize_session(
        t.InitializeParams(capabilities=_pull_capabilities(refresh), root_uri=root.as_uri())
    )
    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    identifier = t.TextDocumentIdentifier(uri)
    first = await client.text_document_diagnostic_async(t.DocumentDiagnosticParams(identifier))
    assert codes(first.items) == ["PRF001", "SEC001", "STY001"]
    await quiet(client)
    seen = len(refreshes)
    with one_write(client):
        did_change(client, uri, 2, [change(3, 0, 4, 0, UNUSED_SUPPRESSION)])
        answer = request(client, method, interleaved_request(method, uri))
    await answer
    report = await client.text_document_diagnostic_async(
        t.DocumentDiagnosticParams(identifier, previous_result_id=first.result_id)
    )
    assert report.kind == "full"
    if refresh and codes(report.items) != AFTER_EDIT:
        deadline = asyncio.get_running_loop().time() + 5
        while len(refreshes) == seen:
            assert asyncio.get_running_loop().time() < deadline, "no refresh after the whole-document check"
            await asyncio.sleep(0.01)
        report = await client.text_document_diagnostic_async(
            t.DocumentDiagnosticParams(identifier, previous_result_id=report.result_id)
        )
    assert codes(report.items) == AFTER_EDIT
    assert [p for p in recorder.published if p.uri == uri] == []


# -- item 2: once per version, complete first ---------------------------------------------------


async def test_each_version_is_published_once_complete_from_the_first(client: LanguageClient, tmp_path):
    text = SAMPLE.replace("  def any_expired?", "  # exhort:disable-next-line OTP002\n  def any_expired?")
    root, uri = sample_project(tmp_path)
    await initialize(client, "visual-studio-code", root)
    recorder = Recorder(client)
    open_document(client, uri, text)
    await quiet(client)  # indexing finished meanwhile: it changed no finding here
    published = [p for p in recorder.published if p.uri == uri]
    assert [(p.version, codes(p.diagnostics)) for p in published] == [(1, ["EXH001", "PRF001", "SEC001", "STY001"])]

    # An edit that changes no finding: the new version once.
    line_count = text.count("\n")
    did_change(client, uri, 2, [change(line_count, 0, line_count, 0, "\n")])
    await quiet(client)
    published = [p for p in recorder.published if p.uri == uri]
    assert [(p.version, codes(p.diagnostics)) for p in published][1:] == [(2, ["EXH001", "PRF001", "SEC001", "STY001"])]

    # Settings that change nothing publish nothing.
    client.workspace_did_change_configuration(t.DidChangeConfigurationParams(settings={"exhort": {"ignore": ["NOPE"]}}))
    await quiet(client)
    assert len([p for p in recorder.published if p.uri == uri]) == 2


# -- item 5: an edit of the document's own workspace facts --------------------------------------

ROOMS = """\
defmodule Sample.Room do
  use GenServer
end

defmodule Sample.Rooms do
  def open(id), do: {:ok, id}
end
"""


APPLICATION = """\
defmodule Sample.Application do
  use Application

  def start(_type, _args), do: Supervisor.start_link([], strategy: :one_for_one)
end
"""


async def test_an_edit_of_the_documents_own_facts_rechecks_it(client: LanguageClient, tmp_path):
    root = write_project(tmp_path, {"lib/sample/rooms.ex": ROOMS, "lib/sample/application.ex": APPLICATION})
    uri = (root / "lib/sample/rooms.ex").as_uri()
    await initialize(client, "visual-studio-code", root)
    recorder = Recorder(client)
    open_document(client, uri, ROOMS)
    await quiet(client)
    assert codes(recorder.published[-1].diagnostics) == ["OTP014"]
    # Sample.Rooms now starts Sample.Room under a supervisor: the room is no orphan.
    line = ROOMS.splitlines()[5]
    start, end = line.index("{:ok, id}"), len(line)
    did_change(client, uri, 2, [change(5, start, 5, end, "DynamicSupervisor.start_child(Sample.RoomSup, {Sample.Room, id})")])
    await quiet(client)
    last = [p for p in recorder.published if p.uri == uri][-1]
    assert last.version == 2 and codes(last.diagnostics) == []
    # And back: deleting the reference brings the finding back.
    line = (await debug(client, "exhort.debug.document", uri))["text"].splitlines()[5]
    did_change(client, uri, 3, [change(5, line.index("DynamicSupervisor"), 5, len(line), "{:ok, id}")])
    await quiet(client)
    last = [p for p in recorder.published if p.uri == uri][-1]
    assert last.version == 3 and codes(last.diagnostics) == ["OTP014"]


# -- item 6: lone UTF-16 surrogates -------------------------------------------------------------


async def test_lone_surrogates_are_replaced_never_dropped(client: LanguageClient, tmp_path):
    root, uri = sample_project(tmp_path)
    await initialize(client, "visual-studio-code", root)  # utf-16: a lone surrogate is one unit
    recorder = Recorder(client)
    opened = SAMPLE.replace('label: "x"', 'label: "x\ud800"')
    open_document(client, uri, opened)
    first = await recorder.wait(uri, 1)
    assert "STY001" in codes(first.diagnostics)
    state = await debug(client, "exhort.debug.document", uri)
    assert state["text"] == opened.replace("\ud800", "\ufffd")

    # Two changes in one notification, the first with a lone low surrogate; then an edit
    # addressed after it on the same line (one UTF-16 unit, as the replacement is).
    did_change(
        client, uri, 2,
        [change(0, 0, 0, 0, "# a\udc00b\n"), change(4, 0, 4, 0, "    # second\n")],
    )
    did_change(client, uri, 3, [change(0, 4, 0, 5, "c")])
    published = await recorder.wait(uri, 3)
    assert codes(published.diagnostics) == ["PRF001", "SEC001", "STY001"]
    expected = "# a\ufffdc\n" + "".join(
        ("    # second\n" if number == 3 else "") + line
        for number, line in enumerate(opened.replace("\ud800", "\ufffd").splitlines(keepends=True))
    )
    state = await debug(client, "exhort.debug.document", uri)
    assert state["version"] == 3 and state["text"] == expected
    assert state["tree"] == state["fresh_tree"]
    surrogate_logs = [m for m in client.log_messages if "surrogate" in m.message]
    assert len(surrogate_logs) == 1, [m.message for m in client.log_messages]
