"""`exhort check --diff-base REF`: only findings on lines a change touched (issue 16)."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers import STATS, edit, exhort, write_project

GIT_ENV = {"PATH": "/usr/bin:/bin", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": "/nonexistent"}


def git(project, *args):
    return subprocess.run(["git", *args], cwd=project, env=GIT_ENV, check=True, capture_output=True, text=True)


@pytest.fixture
def project(tmp_path):
    """A checkout whose main branch has two findings, on a feature branch."""
    project = write_project(tmp_path, {"lib/app/stats.ex": STATS})
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "start")
    git(project, "checkout", "-q", "-b", "feature")
    return project



def add_label(project):
    edit(project, "lib/app/stats.ex", "  def parse(params) do\n",
         '  def label(params), do: String.to_atom(params["label"])\n\n  def parse(params) do\n')


def test_only_findings_on_changed_lines_are_reported(project):
    assert "All checks passed (2 files checked).\n2 findings on lines not changed since main" in \
        exhort("check", "--diff-base", "main", cwd=project).stdout
    add_label(project)  # unstaged
    result = exhort("check", "--diff-base", "main", cwd=project)
    assert result.returncode == 1
    assert "lib/app/stats.ex:4:26: warning: SEC001" in result.stdout
    assert "Found 1 problem (1 warning) in 1 file; 2 files checked." in result.stdout
    assert "2 findings on lines not changed since main (merge-base " in result.stdout


def test_committed_staged_and_untracked_changes_count(project):
    add_label(project)
    git(project, "commit", "-qam", "label")
    (project / "lib/app/staged.ex").write_text('defmodule App.Staged do\n  def f(p), do: String.to_atom(p[\"kind\"])\nend\n')
    git(project, "add", "lib/app/staged.ex")
    (project / "lib/app/new.ex").write_text('defmodule App.New do\n  def f(p), do: String.to_atom(p[\"kind\"])\nend\n')
    items = json.loads(exhort("check", "--diff-base", "main", "--format", "json", cwd=project).stdout)
    assert sorted((i["path"], i["line"]) for i in items) == [
        ("lib/app/new.ex", 2), ("lib/app/staged.ex", 2), ("lib/app/stats.ex", 4)]


def test_the_merge_base_is_the_reference(project):
    """Commits on main after the branch point are not the branch's change."""
    git(project, "checkout", "-q", "main")
    edit(project, "lib/app/stats.ex", "defmodule App.Stats do\n", "defmodule App.Stats do\n  @moduledoc false\n")
    git(project, "commit", "-qam", "main moves on")
    git(project, "checkout", "-q", "feature")
    add_label(project)
    items = json.loads(exhort("check", "--diff-base", "main", "--format", "json", cwd=project).stdout)
    assert [(i["code"], i["line"]) for i in items] == [("SEC001", 4)]


@pytest.mark.parametrize("output", ["sarif", "github"])
def test_every_format(project, output):
    add_label(project)
    result = exhort("check", "--diff-base", "main", "--format", output, cwd=project)
    assert result.returncode == 1
    if output == "sarif":
        [found] = json.loads(result.stdout)["runs"][0]["results"]
        assert found["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    else:
        [line] = result.stdout.splitlines()
        assert "line=4," in line
    assert "exhort: 2 findings on lines not changed since main" in result.stderr


def test_fix_applies_only_the_fixes_of_changed_lines(project):
    edit(project, "lib/app/stats.ex", "  def parse(params) do\n",
         "  def none?(xs), do: length(xs) == 0\n\n  def parse(params) do\n")
    result = exhort("check", "--diff-base", "main", "--fix", cwd=project)
    text = (project / "lib/app/stats.ex").read_text()
    assert "def any?(items), do: length(items) > 0" in text  # an unchanged line: left alone
    assert "def none?(xs), do: xs == []" in text
    assert "Fixed 1 problem." in result.stderr and result.returncode == 0


def test_a_syntax_error_anywhere_in_a_changed_file_is_reported(project):
    edit(project, "lib/app/stats.ex", "defmodule App.Stats do\n", "defmodule App.Stats do\n  def broken(x) do\n")
    items = json.loads(exhort("check", "--diff-base", "main", "--format", "json", cwd=project).stdout)
    assert [i["code"] for i in items] == ["EXH002"]
    assert items[0]["line"] == 8  # the missing `end` is found on a line the change did not touch


def test_lines_around_a_deletion_count(project):
    edit(project, "lib/app/stats.ex", "  def any?(items), do: length(items) > 0\n\n", "")
    edit(project, "lib/app/stats.ex", "  def parse(params) do\n", "  def parse(params) do\n\n")
    git(project, "commit", "-qam", "shift")
    edit(project, "lib/app/stats.ex", "  def parse(params) do\n\n", "  def parse(params) do\n")
    items = json.loads(exhort("check", "--diff-base", "HEAD", "--format", "json", cwd=project).stdout)
    assert [(i["code"], i["line"]) for i in items] == [("SEC001", 3)]


def test_clear_errors_outside_a_checkout_and_for_unknown_refs(tmp_path_factory, project):
    outside = write_project(tmp_path_factory.mktemp("plain"), {"lib/app/stats.ex": STATS})
    result = exhort("check", "--diff-base", "main", cwd=outside)
    assert result.returncode == 2
    assert "exhort: error: --diff-base: " in result.stderr and "is not inside a git checkout" in result.stderr
    unknown = exhort("check", "--diff-base", "no-such-branch", cwd=project)
    assert unknown.returncode == 2
    assert "exhort: error: --diff-base: unknown revision 'no-such-branch'" in unknown.stderr


def test_with_a_baseline(project):
    exhort("check", "--baseline", "b.json", "--update-baseline", cwd=project)
    add_label(project)
    result = exhort("check", "--diff-base", "main", "--baseline", "b.json", cwd=project)
    assert "Found 1 problem (1 warning) in 1 file" in result.stdout
    assert "2 findings accepted in b.json not shown." in result.stdout
