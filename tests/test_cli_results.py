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
