"""End-to-end tests: the real server over stdio, driven by pytest-lsp clients."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_helpers import (
    SERVER_COMMAND,
    accept_registrations,
    Recorder,
    apply_edit,
    apply_text_edits,
    change,
    debug,
    did_change,
    index_to_column,
    initialize,
    open_document,
    wait_for_index,
    write_project,
)

FAILING_SERVER = [sys.executable, str(Path(__file__).with_name("failing_rule_server.py"))]

SAMPLE = """\
defmodule Sample.Filters do
  @moduledoc "émails 📧 日本"

  def filter(params) do
    status = "日😀" <> String.to_atom(params["status"])
    IO.inspect(status, label: "é")
  end

  def any_expired?(expired), do: length(expired) > 0
end
"""


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(lsp_client: LanguageClient):
    lsp_client.registrations = accept_registrations(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=FAILING_SERVER))
async def failing_client(lsp_client: LanguageClient):
    lsp_client.registrations = accept_registrations(lsp_client)
    yield
    await lsp_client.shutdown_session()


def project(tmp_path: Path, extra: dict[str, str] | None = None) -> tuple[Path, str]:
    root = write_project(tmp_path, {"lib/sample/filters.ex": SAMPLE, **(extra or {})})
    return root, (root / "lib/sample/filters.ex").as_uri()


# -- text sync in every encoding ----------------------------------------------------------------

CLIENTS = {"visual-studio-code": "utf-16", "neovim@v0.11.0": "utf-8", "emacs": "utf-32"}


@pytest.mark.parametrize("spec", list(CLIENTS))
async def test_incremental_edits_with_multibyte_text_in_each_encoding(client: LanguageClient, tmp_path, spec):
    root, uri = project(tmp_path)
    result = await initialize(client, spec, root)
    encoding = CLIENTS[spec]
    assert result.capabilities.position_encoding == encoding
    text = SAMPLE
    open_document(client, uri, text)
    # Edits addressed in the negotiated units, after é, 日, 😀 and across lines.
    line4 = text.splitlines()[4]
    after_emoji = index_to_column(line4, line4.index("😀") + 1, encoding)
    edits = [
        (4, after_emoji, 4, after_emoji, "é"),
        (1, index_to_column(text.splitlines()[1], text.splitlines()[1].index("📧"), encoding), 1,
         index_to_column(text.splitlines()[1], text.splitlines()[1].index("📧") + 1, encoding), "😀😀"),
        (5, 0, 6, 0, "    x = 1\n    日 = 2\r\n"),
        (8, 2, 8, 2, "\x0c\u2028"),
        (0, 0, 0, 0, "# 🎉\n"),
    ]
    for version, (l0, c0, l1, c1, new) in enumerate(edits, start=2):
        text = apply_edit(text, l0, c0, l1, c1, new, encoding)
        did_change(client, uri, version, [change(l0, c0, l1, c1, new)])
    state = await debug(client, "exhort.debug.document", uri)
    assert state["encoding"] == encoding
    assert state["version"] == len(edits) + 1
    assert state["text"] == text
    assert state["tree"] == state["fresh_tree"]


async def test_diagnostic_positions_use_the_negotiated_encoding(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path)
    await initialize(client, "emacs", root)  # utf-32 columns
    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    published = await recorder.wait(uri, 1)
    sec = next(d for d in published.diagnostics if d.code == "SEC001")
    line = SAMPLE.splitlines()[4]
    assert sec.range.start.line == 4
    assert sec.range.start.character == line.index("String.to_atom")  # code points
    assert sec.source == "exhort"


# -- push and pull ----------------------------------------------------------------------------


async def test_push_mode_publishes_each_version_and_clears(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path)
    await initialize(client, "visual-studio-code", root)
    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    first = await recorder.wait(uri, 1)
    assert sorted(d.code for d in first.diagnostics) == ["PRF001", "SEC001", "STY001"]
    # Remove the IO.inspect line: STY001 goes, the rest stays.
    did_change(client, uri, 2, [change(5, 0, 6, 0, "")])
    second = await recorder.wait(uri, 2)
    assert sorted(d.code for d in second.diagnostics) == ["PRF001", "SEC001"]
    assert all(p.version in (1, 2) for p in recorder.published if p.uri == uri)
    with pytest.raises(Exception):
        await client.text_document_diagnostic_async(t.DocumentDiagnosticParams(t.TextDocumentIdentifier(uri)))
    mark = len(recorder.published)
    client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(uri)))
    # The version-2 publish of the whole-document rules may still arrive after `mark`.
    cleared = await recorder.wait(uri, None, after=mark, where=lambda p: p.version is None)
    assert len(cleared.diagnostics) == 0


async def test_unused_suppression_is_an_unnecessary_hint(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path)
    await initialize(client, "visual-studio-code", root)
    recorder = Recorder(client)
    text = SAMPLE.replace("  def any_expired?", "  # exhort:disable-next-line SEC001\n  def any_expired?")
    open_document(client, uri, text)
    published = await recorder.wait(uri, 1)  # complete from the first publish
    hint = next(d for d in published.diagnostics if d.code == "EXH001")
    assert hint.severity == t.DiagnosticSeverity.Hint
    assert t.DiagnosticTag.Unnecessary in hint.tags


async def test_pull_mode_reports_full_then_unchanged_and_never_pushes(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path)
    result = await initialize(client, "neovim@v0.11.0", root)
    assert result.capabilities.diagnostic_provider is not None
    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    identifier = t.TextDocumentIdentifier(uri)
    report = await client.text_document_diagnostic_async(t.DocumentDiagnosticParams(identifier))
    assert report.kind == "full"
    assert sorted(d.code for d in report.items) == ["PRF001", "SEC001", "STY001"]
    again = await client.text_document_diagnostic_async(
        t.DocumentDiagnosticParams(identifier, previous_result_id=report.result_id)
    )
    assert again.kind == "unchanged" and again.result_id == report.result_id
    did_change(client, uri, 2, [change(5, 0, 6, 0, "")])
    changed = await client.text_document_diagnostic_async(
        t.DocumentDiagnosticParams(identifier, previous_result_id=report.result_id)
    )
    assert changed.kind == "full" and changed.result_id != report.result_id
    assert sorted(d.code for d in changed.items) == ["PRF001", "SEC001"]
    await asyncio.sleep(0.2)
    assert [p for p in recorder.published if p.uri == uri] == []


# -- hover ------------------------------------------------------------------------------------


async def test_hover_explains_findings_and_suppressions(client: LanguageClient, tmp_path):
    text = SAMPLE.replace(
        "  def any_expired?", "  # exhort:disable-next-line PRF001\n  def any_expired?"
    ).replace("  def filter", "  # exhort:disable-next-line OTP002\n  def filter")
    root, uri = project(tmp_path)
    await initialize(client, "visual-studio-code", root)
    open_document(client, uri, text)
    lines = text.splitlines()
    sec_line = next(i for i, line in enumerate(lines) if "String.to_atom" in line)
    column = index_to_column(lines[sec_line], lines[sec_line].index("to_atom"), "utf-16")
    hover = await client.text_document_hover_async(
        t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(sec_line, column))
    )
    assert hover.contents.kind == t.MarkupKind.Markdown
    assert "**SEC001**" in hover.contents.value and "## SEC001" in hover.contents.value
    used = next(i for i, line in enumerate(lines) if "disable-next-line PRF001" in line)
    hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(used, 8)))
    assert "`PRF001`" in hover.contents.value and "silences at least one finding" in hover.contents.value
    unused = next(i for i, line in enumerate(lines) if "disable-next-line OTP002" in line)
    hover = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(uri), t.Position(unused, 8)))
    assert "silences nothing" in hover.contents.value
    nothing = await client.text_document_hover_async(
        t.HoverParams(t.TextDocumentIdentifier("file:///not/open.ex"), t.Position(0, 0))
    )
    assert nothing is None


# -- code actions -----------------------------------------------------------------------------


async def test_quick_fix_disable_comment_and_fix_all(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path)
    await initialize(client, "visual-studio-code", root)
    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    published = await recorder.wait(uri, 1)
    prf = next(d for d in published.diagnostics if d.code == "PRF001")
    actions = await client.text_document_code_action_async(
        t.CodeActionParams(t.TextDocumentIdentifier(uri), prf.range, t.CodeActionContext(diagnostics=[prf]))
    )
    quick = next(a for a in actions if a.kind == t.CodeActionKind.QuickFix and a.is_preferred)
    assert quick.diagnostics[0].code == "PRF001"
    fixed = apply_text_edits(SAMPLE, quick.edit.changes[uri], "utf-16")
    assert "expired != []" in fixed
    disable = next(a for a in actions if a.title == "Disable PRF001 for this line")
    disabled = apply_text_edits(SAMPLE, disable.edit.changes[uri], "utf-16")
    assert "\n  # exhort:disable-next-line PRF001\n  def any_expired?" in disabled

    # Apply the disable comment and check that PRF001 is gone (and not reported unused).
    edit = disable.edit.changes[uri][0]
    did_change(client, uri, 2, [t.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)])
    after = await recorder.wait(uri, 2)
    assert sorted(d.code for d in after.diagnostics) == ["SEC001", "STY001"]

    fix_all = await client.text_document_code_action_async(
        t.CodeActionParams(
            t.TextDocumentIdentifier(uri),
            t.Range(t.Position(0, 0), t.Position(0, 0)),
            t.CodeActionContext(diagnostics=[], only=["source.fixAll.exhort"]),
        )
    )
    assert [a.kind for a in fix_all] == ["source.fixAll.exhort"]
    assert {d.code for d in fix_all[0].diagnostics} == {"STY001"}
    current = (await debug(client, "exhort.debug.document", uri))["text"]
    new_text = apply_text_edits(current, fix_all[0].edit.changes[uri], "utf-16")
    did_change(client, uri, 3, [t.TextDocumentContentChangeWholeDocument(text=new_text)])
    rechecked = await recorder.wait(uri, 3)
    assert sorted(d.code for d in rechecked.diagnostics) == ["SEC001"]


async def test_heex_disable_comment_uses_the_heex_form(client: LanguageClient, tmp_path):
    root = write_project(tmp_path, {})
    await initialize(client, "visual-studio-code", root)
    uri = (root / "lib/sample_web/page.html.heex").as_uri()
    open_document(client, uri, "<div>\n  <p>{@x}</p>\n</div>\n", language="phoenix-heex")
    actions = await client.text_document_code_action_async(
        t.CodeActionParams(t.TextDocumentIdentifier(uri), t.Range(t.Position(1, 2), t.Position(1, 4)), t.CodeActionContext(diagnostics=[]))
    )
    assert isinstance(actions, (list, tuple))  # no HEEx rule fires here; the request must still succeed


# -- configuration ----------------------------------------------------------------------------


async def test_config_reload_broken_config_and_editor_settings(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path, {".exhort.toml": 'ignore = ["SEC001"]\n'})
    config = root / ".exhort.toml"
    await initialize(client, "visual-studio-code", root)
    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    first = await recorder.wait(uri, 1)
    assert sorted(d.code for d in first.diagnostics) == ["PRF001", "STY001"]

    config.write_text('ignore = ["SEC001"]\n\nselect = ["NOPE999"]\n')
    mark = len(recorder.published)
    client.workspace_did_change_watched_files(
        t.DidChangeWatchedFilesParams(changes=[t.FileEvent(uri=config.as_uri(), type=t.FileChangeType.Changed)])
    )
    broken = await recorder.wait(config.as_uri(), None, after=mark)
    assert len(broken.diagnostics) == 1 and broken.diagnostics[0].range.start.line == 2
    assert "NOPE999" in broken.diagnostics[0].message
    await asyncio.sleep(0.5)  # rechecked meanwhile: the last good config is in force, so nothing changed
    assert [p.uri for p in recorder.published[mark:]] == [config.as_uri()]

    config.write_text('ignore = ["STY001"]\n')
    mark = len(recorder.published)
    client.workspace_did_change_watched_files(
        t.DidChangeWatchedFilesParams(changes=[t.FileEvent(uri=config.as_uri(), type=t.FileChangeType.Changed)])
    )
    cleared = await recorder.wait(config.as_uri(), None, after=mark)
    assert len(cleared.diagnostics) == 0
    # A whole-document check scheduled by the previous reload may still publish first.
    reloaded = await recorder.wait(uri, 1, after=mark, where=lambda p: any(d.code == "SEC001" for d in p.diagnostics))
    assert sorted(d.code for d in reloaded.diagnostics) == ["PRF001", "SEC001"]

    mark = len(recorder.published)
    client.workspace_did_change_configuration(
        t.DidChangeConfigurationParams(settings={"exhort": {"ignore": ["PRF001"], "severity": {"SEC001": "hint"}}})
    )
    editor = await recorder.wait(uri, 1, after=mark, where=lambda p: all(d.code != "PRF001" for d in p.diagnostics))
    assert [(d.code, d.severity) for d in editor.diagnostics] == [("SEC001", t.DiagnosticSeverity.Hint), ("STY001", t.DiagnosticSeverity.Information)]


async def test_initialization_options_override_the_file(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path)
    await initialize(client, "visual-studio-code", root, options={"select": ["SEC"]})
    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    published = await recorder.wait(uri, 1)
    assert [d.code for d in published.diagnostics] == ["SEC001"]


# -- workspace index --------------------------------------------------------------------------


async def test_files_checked_in_the_background_open_with_the_same_findings(client: LanguageClient, tmp_path):
    other = "defmodule Sample.Other do\n  def empty?(list), do: length(list) == 0\nend\n"
    root, uri = project(tmp_path, {"lib/sample/other.ex": other})
    other_path = root / "lib/sample/other.ex"
    await initialize(client, "visual-studio-code", root)
    recorder = Recorder(client)
    deadline = asyncio.get_running_loop().time() + 20
    while not (state := await debug(client, "exhort.debug.index"))["precheck_done"]:
        assert asyncio.get_running_loop().time() < deadline, state
        await asyncio.sleep(0.05)
    assert state["prechecked"] == 3  # with mix.exs

    # Opened with the text that was checked: the background state is used, and the findings
    # are those of a check from scratch (the same file opened under a name on no disk).
    open_document(client, uri, SAMPLE)
    warm = await recorder.wait(uri, 1)
    assert (await debug(client, "exhort.debug.document", uri))["prechecked"] is True
    scratch_uri = (root / "lib/sample/scratch.ex").as_uri()
    open_document(client, scratch_uri, SAMPLE)
    cold = await recorder.wait(scratch_uri, 1)
    assert (await debug(client, "exhort.debug.document", scratch_uri))["prechecked"] is False
    key = lambda d: (d.code, d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character, d.message)
    assert sorted(map(key, warm.diagnostics)) == sorted(map(key, cold.diagnostics))
    assert {d.code for d in warm.diagnostics} == {"PRF001", "SEC001", "STY001"}
    # It took the document that check parsed, too; edits of it go on like any other's.
    state = await debug(client, "exhort.debug.document", uri)
    assert state["parsed_in_background"] is True
    for target in (uri, scratch_uri):
        did_change(client, target, 2, [change(5, 0, 6, 0, "")])
    warm = await recorder.wait(uri, 2)
    cold = await recorder.wait(scratch_uri, 2)
    assert sorted(map(key, warm.diagnostics)) == sorted(map(key, cold.diagnostics))
    assert {d.code for d in warm.diagnostics} == {"PRF001", "SEC001"}
    state = await debug(client, "exhort.debug.document", uri)
    assert state["tree"] == state["fresh_tree"]

    # Changed on disk after the background check: its old state is never used.
    other_path.write_text(other.replace("length(list) == 0", "list == []"))
    changed = other_path.read_text()
    open_document(client, other_path.as_uri(), changed)
    fresh = await recorder.wait(other_path.as_uri(), 1)
    assert (await debug(client, "exhort.debug.document", other_path.as_uri()))["prechecked"] is False
    assert [d.code for d in fresh.diagnostics] == []


async def test_index_progress_and_watched_file_updates(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path, {"lib/sample/worker.ex": "defmodule Sample.Worker do\n  use GenServer\nend\n"})
    await initialize(client, "visual-studio-code", root)
    state = await wait_for_index(client, lambda s: "Sample.Worker" in s["modules"])
    assert "Sample.Filters" in state["modules"]
    assert [
        w["globPattern"] for r in client.registrations for w in r.register_options["watchers"]
    ] == [
        "**/*.{ex,exs,heex}", "**/mix.lock", "**/.exhort.toml"
    ]
    reports = client.progress_reports["exhort-index"]
    assert reports[0].kind == "begin" and reports[0].message == "Indexing 3 files"  # two modules and mix.exs
    assert reports[-1].kind == "end"

    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    await recorder.wait(uri, 1)
    added = root / "lib/sample/cache.ex"
    added.write_text("defmodule Sample.Cache do\nend\n")
    client.workspace_did_change_watched_files(
        t.DidChangeWatchedFilesParams(changes=[t.FileEvent(uri=added.as_uri(), type=t.FileChangeType.Created)])
    )
    await wait_for_index(client, lambda s: "Sample.Cache" in s["modules"])

    (root / "lib/sample/worker.ex").unlink()
    client.workspace_did_change_watched_files(
        t.DidChangeWatchedFilesParams(
            changes=[t.FileEvent(uri=(root / "lib/sample/worker.ex").as_uri(), type=t.FileChangeType.Deleted)]
        )
    )
    await wait_for_index(client, lambda s: "Sample.Worker" not in s["modules"])

    # Edits of an open file reach the index once typing pauses.
    did_change(client, uri, 2, [change(0, 10, 0, 24, "Renamed")])
    await wait_for_index(client, lambda s: "Renamed" in s["modules"] and "Sample.Filters" not in s["modules"])


async def test_closing_a_buffer_restores_the_files_facts(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path)
    await initialize(client, "visual-studio-code", root)
    await wait_for_index(client, lambda s: "Sample.Filters" in s["modules"])

    # Unsaved edits reach the index while the buffer is open; closing it without saving
    # brings back what the file on disk defines.
    open_document(client, uri, SAMPLE)
    did_change(client, uri, 2, [change(0, 10, 0, 24, "Renamed")])
    await wait_for_index(client, lambda s: "Renamed" in s["modules"] and "Sample.Filters" not in s["modules"])
    client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(uri)))
    await wait_for_index(client, lambda s: "Sample.Filters" in s["modules"] and "Renamed" not in s["modules"])

    # A buffer that is on no disk leaves nothing behind.
    scratch = (root / "lib/sample/scratch.ex").as_uri()
    open_document(client, scratch, "defmodule Sample.Scratch do\nend\n")
    await wait_for_index(client, lambda s: "Sample.Scratch" in s["modules"])
    client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(scratch)))
    await wait_for_index(client, lambda s: "Sample.Scratch" not in s["modules"])


# -- robustness -------------------------------------------------------------------------------


async def test_a_raising_rule_is_disabled_and_reported_once(failing_client: LanguageClient, tmp_path):
    client = failing_client
    root, uri = project(tmp_path)
    await initialize(client, "visual-studio-code", root)
    recorder = Recorder(client)
    open_document(client, uri, SAMPLE)
    first = await recorder.wait(uri, 1)
    assert sorted(d.code for d in first.diagnostics) == ["PRF001", "SEC001", "STY001"]
    did_change(client, uri, 2, [change(0, 0, 0, 0, "# edited\n")])
    await recorder.wait(uri, 2)
    failures = [m for m in client.log_messages if "TST999" in m.message]
    assert len(failures) == 1 and failures[0].type == t.MessageType.Error
    assert client.messages == []  # nothing popped up


async def test_unknown_requests_and_unopened_documents(client: LanguageClient, tmp_path):
    root, uri = project(tmp_path)
    await initialize(client, "visual-studio-code", root)
    from pygls.exceptions import JsonRpcMethodNotFound

    with pytest.raises(JsonRpcMethodNotFound):
        await client.protocol.send_request_async("exhort/noSuchMethod", {})
    actions = await client.text_document_code_action_async(
        t.CodeActionParams(t.TextDocumentIdentifier(uri), t.Range(t.Position(0, 0), t.Position(0, 0)), t.CodeActionContext(diagnostics=[]))
    )
    assert len(actions) == 0
    did_change(client, uri, 5, [change(0, 0, 0, 0, "x")])  # not open: logged, ignored
    open_document(client, uri, "defmodule A do\nend\n")
    did_change(client, uri, 2, [change(40, 0, 99, 3, "# far away\n")])  # clamped to the end
    state = await debug(client, "exhort.debug.document", uri)
    assert state["text"] == "defmodule A do\nend\n# far away\n"


async def test_option_hovers_in_elixir_and_heex(client: LanguageClient, tmp_path):
    worker = "defmodule Sample.Mailer do\n  use Oban.Worker, queue: :mailers, max_attempts: 3\nend\n"
    template = '<div id="songs" phx-update="stream">\n</div>\n'
    root, _uri = project(tmp_path, {"lib/sample/mailer.ex": worker, "lib/sample_web/songs.html.heex": template})
    await initialize(client, "visual-studio-code", root)
    worker_uri = (root / "lib/sample/mailer.ex").as_uri()
    open_document(client, worker_uri, worker)
    hover = await client.text_document_hover_async(
        t.HoverParams(t.TextDocumentIdentifier(worker_uri), t.Position(1, worker.splitlines()[1].index("max_attempts") + 2))
    )
    assert hover is not None and "max_attempts" in hover.contents.value
    assert "**OBN003**" in hover.contents.value  # the finding on the same line is explained too
    template_uri = (root / "lib/sample_web/songs.html.heex").as_uri()
    open_document(client, template_uri, template, language="heex")
    hover = await client.text_document_hover_async(
        t.HoverParams(t.TextDocumentIdentifier(template_uri), t.Position(0, template.index("phx-update") + 3))
    )
    assert hover is not None and "phx-update" in hover.contents.value
    assert hover.range.start.line == 0


# -- fixes that edit another file -------------------------------------------------------------

REPORT_WORKER = """\
defmodule Sample.Report do
  use Oban.Worker, queue: :reports
  def perform(_job), do: :ok
end
"""
OBAN_CONFIG = 'import Config\nconfig :sample, Oban, prefix: "日😀", queues: [default: 10]\n'


async def test_a_fix_in_a_config_file_edits_that_file_uri(client: LanguageClient, tmp_path):
    root = write_project(tmp_path, {"lib/sample/report.ex": REPORT_WORKER, "config/config.exs": OBAN_CONFIG})
    uri, config = (root / "lib/sample/report.ex").as_uri(), root / "config/config.exs"
    await initialize(client, "visual-studio-code", root)  # utf-16: the emoji counts two units
    await wait_for_index(client, lambda s: "Sample.Report" in s["modules"])
    recorder = Recorder(client)
    open_document(client, uri, REPORT_WORKER)
    published = await recorder.wait(uri, 1, where=lambda p: any(d.code == "OBN012" for d in p.diagnostics))
    obn = next(d for d in published.diagnostics if d.code == "OBN012")
    assert obn.related_information[0].location.uri == config.as_uri()

    async def actions():
        return await client.text_document_code_action_async(
            t.CodeActionParams(t.TextDocumentIdentifier(uri), obn.range, t.CodeActionContext(diagnostics=[obn]))
        )

    add = next(a for a in await actions() if a.title.startswith("Add `reports: 10`"))
    assert not add.is_preferred  # offered, not safe
    assert list(add.edit.changes) == [config.as_uri()]  # nothing in the worker itself
    [edit] = add.edit.changes[config.as_uri()]
    line = OBAN_CONFIG.splitlines()[1]
    column = index_to_column(line, line.index("]"), "utf-16")
    assert (edit.range.start.line, edit.range.start.character) == (1, column)
    assert edit.range.start == edit.range.end
    assert apply_text_edits(OBAN_CONFIG, add.edit.changes[config.as_uri()], "utf-16") == OBAN_CONFIG.replace(
        "[default: 10]", "[default: 10, reports: 10]"
    )

    # The config file can no longer be read: the fix is not offered (disabling still is).
    config.unlink()
    titles = [a.title for a in await actions()]
    assert not any(title.startswith("Add `reports") for title in titles)
    assert "Disable OBN012 for this line" in titles
