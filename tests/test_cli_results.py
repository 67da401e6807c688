"""`exhort check` tells the truth about what it checked (issue 17, CLI items)."""

from __future__ import annotations

import json

from helpers import exhort, write_project

BAD = """
defmodule App.Stats do
  def parse(params) do
    String.to_atom(params["kind"])
  end
end
"""
CLEAN = """
defmodule App.Clean do
  def any?(items), do: items != []
end
"""
LATIN1 = b"defmodule L do\n  def f, do: \"caf\xe9\"\nend\n"


# -- item 8: skipped files and missing paths ---------------------------------------------------


def test_a_run_where_every_file_was_skipped_does_not_pass(tmp_path):
    project = write_project(tmp_path, {"lib/latin1.ex": LATIN1})
    for output in ("text", "json", "sarif", "github"):
        result = exhort("check", "--format", output, "lib/latin1.ex", cwd=project)
        assert result.returncode == 2, (output, result.stdout, result.stderr)
        assert "All checks passed" not in result.stdout
    text = exhort("check", "lib/latin1.ex", cwd=project)
    assert "Nothing checked: every file was skipped (1 file skipped)." in text.stdout
    assert "Skipped 1 file, not checked: lib/latin1.ex: not UTF-8" in text.stdout


def test_skipped_files_are_counted_apart_from_checked_ones(tmp_path):
    project = write_project(tmp_path, {"lib/latin1.ex": LATIN1, "lib/clean.ex": CLEAN})
    result = exhort("check", "lib", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed (1 file checked)." in result.stdout
    assert "Skipped 1 file, not checked: lib/latin1.ex: not UTF-8 (invalid byte at offset 32)." in result.stdout


def test_a_folder_without_elixir_is_not_a_pass(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    result = exhort("check", ".", cwd=tmp_path)
    assert result.returncode == 2
    assert "Nothing checked: no .ex, .exs or .heex files under the given paths." in result.stdout


def test_sarif_and_github_name_skipped_files(tmp_path):
    project = write_project(tmp_path, {"lib/latin1.ex": LATIN1, "lib/clean.ex": CLEAN})
    sarif = json.loads(exhort("check", "--format", "sarif", "lib", cwd=project).stdout)
    [invocation] = sarif["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is True
    [note] = invocation["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("Not checked: not UTF-8")
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "lib/latin1.ex"
    github = exhort("check", "--format", "github", "lib", cwd=project).stdout
    assert "::warning file=lib/latin1.ex,title=exhort::Not checked: not UTF-8" in github


def test_a_missing_path_beside_valid_ones_is_reported_and_the_rest_checked(tmp_path):
    project = write_project(tmp_path, {"lib/app/stats.ex": BAD})
    result = exhort("check", "nope.ex", "lib", cwd=project)
    assert result.returncode == 2
    assert "no such file or directory: nope.ex" in result.stderr
    assert "lib/app/stats.ex:3:5:" in result.stdout  # the rest was checked
    assert "Not found: nope.ex." in result.stdout
    items = json.loads(exhort("check", "--format", "json", "lib", "nope.ex", cwd=project).stdout)
    assert [item["code"] for item in items] == ["SEC001"]
    sarif = json.loads(exhort("check", "--format", "sarif", "lib", "nope.ex", cwd=project).stdout)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == "No such file or directory: nope.ex"
    assert exhort("check", "--exit-zero", "lib", "nope.ex", cwd=project).returncode == 2
    assert exhort("check", "--diff", "lib", "nope.ex", cwd=project).returncode == 2


# -- item 9: code that does not parse is a finding, in every format ------------------------------

BROKEN = """
defmodule App.Broken do
  def parse(params) do
    params["kind"] |> , String.to_atom()
  end
end
"""


def test_a_file_that_does_not_parse_is_reported_in_every_format(tmp_path):
    project = write_project(tmp_path, {"lib/broken.ex": BROKEN, "lib/clean.ex": CLEAN})
    text = exhort("check", "lib", cwd=project)
    assert text.returncode == 1
    assert "lib/broken.ex:3:20: error: EXH002 " in text.stdout
    assert "Syntax error: Exhort cannot parse this code, so lines 1-5 (defmodule App.Broken) were not fully checked" in text.stdout
    [item] = json.loads(exhort("check", "--format", "json", "lib", cwd=project).stdout)
    assert (item["code"], item["name"], item["severity"], item["line"]) == ("EXH002", "syntax-error", "error", 3)
    sarif = json.loads(exhort("check", "--format", "sarif", "lib", cwd=project).stdout)
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "EXH002" and result["level"] == "error"
    assert sarif["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "EXH002"
    github = exhort("check", "--format", "github", "lib", cwd=project).stdout
    assert github.startswith("::error file=lib/broken.ex,line=3,col=20,")


def test_a_missing_end_is_reported_on_the_last_line(tmp_path):
    project = write_project(tmp_path, {"lib/open.ex": "defmodule App.Open do\n  def f(x) do\n    x\nend\n"})
    [item] = json.loads(exhort("check", "--format", "json", cwd=project).stdout)
    assert item["code"] == "EXH002" and item["line"] == 4
    assert item["message"].startswith("Syntax error: missing `end`")


def test_syntax_errors_can_be_ignored_or_suppressed(tmp_path):
    project = write_project(tmp_path, {"lib/broken.ex": BROKEN})
    assert exhort("check", "--ignore", "EXH002", cwd=project).returncode == 0
    (project / "lib/broken.ex").write_text("# exhort:disable-file EXH002\n" + BROKEN)
    assert exhort("check", cwd=project).returncode == 0


def test_explain_and_rules_know_the_syntax_error_code(tmp_path):
    assert "## EXH002 syntax-error" in exhort("explain", "EXH002", "--format", "markdown", cwd=tmp_path).stdout
    assert any(line.startswith("EXH002  syntax-error") for line in exhort("rules", cwd=tmp_path).stdout.splitlines())


async def test_the_editor_shows_nothing_for_code_that_does_not_parse(tmp_path):
    """The same text in the language server: its other findings, and no EXH002."""
    import asyncio
    import sys

    from lsprotocol import types as t
    from pytest_lsp import make_test_lsp_client

    source = BROKEN + "\ndefmodule App.Atoms do\n  def kind(params), do: String.to_atom(params[\"kind\"])\nend\n"
    path = write_project(tmp_path, {"lib/broken.ex": source}) / "lib/broken.ex"
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "exhort.lsp")
    try:
        await client.initialize_session(t.InitializeParams(capabilities=t.ClientCapabilities(),
                                                           root_uri=tmp_path.as_uri()))
        uri = path.as_uri()
        client.text_document_did_open(t.DidOpenTextDocumentParams(
            t.TextDocumentItem(uri=uri, language_id="elixir", version=1, text=path.read_text())))
        for _ in range(600):  # until the whole-document check has published SEC001
            if any(d.code == "SEC001" for d in client.diagnostics.get(uri, [])):
                break
            await asyncio.sleep(0.05)
        codes = [d.code for d in client.diagnostics.get(uri, [])]
        assert "SEC001" in codes and "EXH002" not in codes, codes
    finally:
        await client.shutdown_session()


# -- item 10: severity in words, files with findings apart from files checked --------------------


def test_text_output_names_each_severity_and_counts_files_apart(tmp_path):
    project = write_project(tmp_path, {"lib/app/stats.ex": BAD, "lib/clean.ex": CLEAN, "lib/broken.ex": BROKEN})
    out = exhort("check", cwd=project).stdout
    assert "lib/app/stats.ex:3:5: warning: SEC001 " in out
    assert "lib/broken.ex:3:20: error: EXH002 " in out
    assert "Found 2 problems (1 error, 1 warning) in 2 files; 4 files checked." in out
    single = exhort("check", "lib/app/stats.ex", cwd=project).stdout
    assert "Found 1 problem (1 warning) in 1 file; 1 file checked." in single


# -- item 11: paths as given, one kind of SARIF URI ----------------------------------------------

QUEUE_WORKER = """
defmodule App.Report do
  use Oban.Worker, queue: :reports
  def perform(_job), do: :ok
end
"""
QUEUE_CONFIG = "import Config\nconfig :app, Oban,\n  queues: [default: 10]\n"


def test_an_absolute_argument_is_printed_as_given(tmp_path):
    (tmp_path / "app").mkdir()
    project = write_project(tmp_path / "app", {"lib/app/report.ex": QUEUE_WORKER, "config/config.exs": QUEUE_CONFIG})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    given = str(project / "lib")
    text = exhort("check", given, str(project / "config"), cwd=elsewhere).stdout
    assert f"{given}/app/report.ex:2:20: warning: OBN012 " in text
    assert f"note: {project}/config/config.exs:" in text
    assert "../" not in text
    [item] = json.loads(exhort("check", "--format", "json", given, str(project / "config"), cwd=elsewhere).stdout)
    assert item["path"] == f"{given}/app/report.ex"
    assert item["related"][0]["path"] == f"{project}/config/config.exs"
    assert item["fix"]["edits"][0]["path"] == f"{project}/config/config.exs"


def test_sarif_uris_follow_the_argument(tmp_path):
    project = write_project(tmp_path, {"lib/app/report.ex": QUEUE_WORKER, "config/config.exs": QUEUE_CONFIG})

    def uris(*args):
        sarif = json.loads(exhort("check", "--format", "sarif", *args, cwd=project).stdout)
        [result] = sarif["runs"][0]["results"]
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]
        [change] = result["fixes"][0]["artifactChanges"]
        related = result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]
        return sarif["runs"][0], location, change["artifactLocation"], related

    run, location, change, related = uris("lib", "config")
    assert location == {"uri": "lib/app/report.ex", "uriBaseId": "%SRCROOT%"}
    assert change == related == {"uri": "config/config.exs", "uriBaseId": "%SRCROOT%"}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.as_uri() + "/"
    _run, location, change, related = uris(str(project / "lib"), str(project / "config"))
    assert location == {"uri": (project / "lib/app/report.ex").as_uri()}
    assert change == related == {"uri": (project / "config/config.exs").as_uri()}


# -- item 12: help for every option, explanations readable in a terminal --------------------------


def _undescribed(help_text: str) -> list[str]:
    """Entries of argparse's argument lists ("  --flag ARG   description") without a description."""
    lines = help_text.splitlines()
    missing = []
    in_list = False
    for number, line in enumerate(lines):
        if line.endswith(":") and not line.startswith(" "):  # "options:", "positional arguments:"
            in_list = line in ("options:", "positional arguments:")
            continue
        if not in_list or not line.startswith("  ") or line.startswith("   "):
            continue
        entry, _, description = line.strip().partition("  ")
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if not description.strip() and not following.startswith(" " * 6):
            missing.append(entry)
    return missing


def test_every_option_and_argument_is_described(tmp_path):
    for command in ("check", "explain", "rules"):
        result = exhort(command, "--help", cwd=tmp_path)
        assert result.returncode == 0
        assert _undescribed(result.stdout) == [], (command, result.stdout)
    check = exhort("check", "--help", cwd=tmp_path).stdout
    for option in ("PATH", "--format", "--select", "--ignore", "--fix", "--diff", "--exit-zero", "--statistics",
                   "--report-unused-suppressions", "--jobs", "--no-progress", "--color"):
        assert option in check


def test_explain_renders_for_a_terminal_and_keeps_markdown_on_request(tmp_path):
    text = exhort("explain", "SEC001", cwd=tmp_path).stdout
    lines = text.splitlines()
    assert lines[0] == "SEC001 unsafe-atom-creation" and set(lines[1]) == {"="} and len(lines[1]) == len(lines[0])
    assert "##" not in text and "```" not in text and "**" not in text
    assert "\nBad\n\n    %{status: String.to_atom(params[\"status\"])}\n\nGood\n" in text
    assert "\x1b[" not in text  # not a terminal: no colour
    coloured = exhort("explain", "SEC001", "--color", "always", cwd=tmp_path).stdout
    assert "\x1b[1mSEC001 unsafe-atom-creation\x1b[0m" in coloured
    markdown = exhort("explain", "SEC001", "--format", "markdown", cwd=tmp_path).stdout
    assert markdown.startswith("## SEC001 unsafe-atom-creation") and "```elixir" in markdown


# -- item 13: a large file is never a silent terminal -------------------------------------------


def test_a_single_large_file_shows_progress_on_a_terminal(tmp_path):
    import os
    import pty
    import subprocess
    import sys

    functions = "\n".join(f"  def empty_{n}?(items), do: length(items) > 0" for n in range(6000))
    project = write_project(tmp_path, {"lib/big.ex": f"defmodule Big do\n{functions}\nend\n"})
    size_kb = (project / "lib/big.ex").stat().st_size // 1024
    controller, terminal = pty.openpty()
    with open(tmp_path / "out.json", "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "exhort", "check", "--format", "json", "lib/big.ex"],
            cwd=project, stdout=out, stderr=terminal, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        )
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert process.wait(timeout=300) == 1
    status = seen.decode()
    assert "checking 0/1 file · " in status, status
    assert f"waiting for lib/big.ex ({size_kb} KB)" in status, status
    assert status.endswith("\r"), "the status line is blanked before the report"
    assert len(json.loads((tmp_path / "out.json").read_text())) == 6000
