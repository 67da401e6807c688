"""`exhort check --baseline`: adopt Exhort on existing code, report only what is new (issue 16)."""

from __future__ import annotations

import json

import pytest

from helpers import STATS, edit, exhort, write_project

SECRET = 'import Config\nconfig :app, App.Mailer, api_key: "SG.live-4f9a81c7e2"\n'


@pytest.fixture
def project(tmp_path):
    project = write_project(tmp_path, {"lib/app/stats.ex": STATS, "config/prod.exs": SECRET})
    result = exhort("check", "--baseline", "exhort-baseline.json", "--update-baseline", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Recorded 3 findings in exhort-baseline.json." in result.stderr
    return project



def check(project, *args):
    return exhort("check", "--baseline", "exhort-baseline.json", *args, cwd=project)


def test_accepted_findings_are_not_reported(project):
    result = check(project)
    assert result.returncode == 0
    assert "All checks passed (3 files checked).\n3 findings accepted in exhort-baseline.json not shown." \
        in result.stdout


def test_the_baseline_holds_no_flagged_text(project):
    recorded = (project / "exhort-baseline.json").read_text()
    assert "SG.live" not in recorded and "String.to_atom" not in recorded
    entries = json.loads(recorded)["findings"]
    assert {(e["path"], e["code"], e["context"]) for e in entries} == {
        ("config/prod.exs", "SEC003", ""), ("lib/app/stats.ex", "PRF001", "App.Stats.any?/1"),
        ("lib/app/stats.ex", "SEC001", "App.Stats.parse/1")}


def test_fingerprints_survive_moved_lines_and_unrelated_edits(project):
    edit(project, "lib/app/stats.ex", "defmodule App.Stats do\n",
         "defmodule App.Stats do\n  @moduledoc \"Counts.\"\n\n  def total(items), do: Enum.sum(items)\n\n")
    edit(project, "lib/app/stats.ex", 'String.to_atom(params["kind"])',
         'params |> Map.get("unused")\n    String.to_atom(  params["kind"] )')
    result = check(project)
    assert result.returncode == 0, result.stdout


def test_only_new_findings_are_reported(project):
    edit(project, "lib/app/stats.ex", "  def parse(params) do\n",
         '  def label(params), do: String.to_atom(params["label"])\n\n  def parse(params) do\n')
    result = check(project)
    assert result.returncode == 1
    assert "lib/app/stats.ex:4:26: warning: SEC001" in result.stdout
    assert "Found 1 problem (1 warning) in 1 file; 3 files checked." in result.stdout
    # the same call moved to another function is another finding
    edit(project, "lib/app/stats.ex", '  def parse(params) do\n    String.to_atom(params["kind"])\n  end\n',
         '  def parse(params), do: decode(params)\n  defp decode(params), do: String.to_atom(params["kind"])\n')
    assert "2 problems" in check(project).stdout


@pytest.mark.parametrize("output", ["json", "sarif", "github"])
def test_every_format_reports_only_new_findings(project, output):
    edit(project, "lib/app/stats.ex", "  def parse(params) do\n",
         '  def label(params), do: String.to_atom(params["label"])\n\n  def parse(params) do\n')
    result = check(project, "--format", output)
    assert result.returncode == 1
    if output == "json":
        assert [(i["code"], i["line"]) for i in json.loads(result.stdout)] == [("SEC001", 4)]
    elif output == "sarif":
        results = json.loads(result.stdout)["runs"][0]["results"]
        assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results] \
            == [("SEC001", 4)]
    else:
        assert len(result.stdout.splitlines()) == 1 and "line=4," in result.stdout
    assert "exhort: 3 findings accepted in exhort-baseline.json not shown." in result.stderr


def test_fixed_findings_are_listed_and_dropped_on_update(project):
    edit(project, "lib/app/stats.ex", "length(items) > 0", "items != []")
    result = check(project)
    assert result.returncode == 0
    assert ("1 finding of exhort-baseline.json no longer found; `--update-baseline` drops them from it:\n"
            "  fixed: lib/app/stats.ex: PRF001 in App.Stats.any?/1") in result.stdout
    check(project, "--update-baseline")
    codes = [e["code"] for e in json.loads((project / "exhort-baseline.json").read_text())["findings"]]
    assert codes == ["SEC003", "SEC001"]
    assert "no longer found" not in check(project).stdout


def test_identical_findings_are_counted(tmp_path):
    twice = "defmodule App.Twice do\n  def f(p) do\n    String.to_atom(p[\"k\"])\n    String.to_atom(p[\"k\"])\n  end\nend\n"
    project = write_project(tmp_path, {"lib/twice.ex": twice})
    check(project, "--update-baseline")
    [entry] = json.loads((project / "exhort-baseline.json").read_text())["findings"]
    assert entry["count"] == 2
    edit(project, "lib/twice.ex", "    String.to_atom(p[\"k\"])\n    String.to_atom(p[\"k\"])\n", "    String.to_atom(p[\"k\"])\n")
    result = check(project)
    assert result.returncode == 0 and "fixed: lib/twice.ex: SEC001 in App.Twice.f/1" in result.stdout
    edit(project, "lib/twice.ex", "    String.to_atom(p[\"k\"])\n", "    String.to_atom(p[\"k\"])\n" * 3)
    assert "Found 1 problem" in check(project).stdout


def test_a_deleted_file_is_fixed_and_a_partial_update_keeps_other_files(project):
    (project / "config/prod.exs").unlink()
    assert "fixed: config/prod.exs: SEC003" in check(project).stdout
    (project / "lib/new.ex").write_text('defmodule App.New do\n  def f(p), do: String.to_atom(p)\nend\n')
    check(project, "--update-baseline", "lib/new.ex")
    paths = {e["path"] for e in json.loads((project / "exhort-baseline.json").read_text())["findings"]}
    assert paths == {"config/prod.exs", "lib/app/stats.ex", "lib/new.ex"}  # only lib/new.ex was re-recorded


def test_paths_are_relative_to_the_baseline_file(project):
    edit(project, "lib/app/stats.ex", "  def parse(params) do\n",
         '  def label(params), do: String.to_atom(params["label"])\n\n  def parse(params) do\n')
    result = exhort("check", "--baseline", "../exhort-baseline.json", ".", cwd=project / "lib")
    assert "app/stats.ex:4:26: warning: SEC001" in result.stdout
    assert "Found 1 problem (1 warning) in 1 file; 1 file checked." in result.stdout


def test_fix_applies_only_the_fixes_of_new_findings(project):
    edit(project, "lib/app/stats.ex", "  def parse(params) do\n", "  def none?(xs), do: length(xs) == 0\n\n"
         "  def parse(params) do\n")
    result = check(project, "--fix")
    text = (project / "lib/app/stats.ex").read_text()
    assert "def any?(items), do: length(items) > 0" in text  # accepted: left alone
    assert "def none?(xs), do: xs == []" in text  # new: fixed
    assert "Fixed 1 problem." in result.stderr and result.returncode == 0


def test_baseline_errors(project):
    missing = exhort("check", "--baseline", "nope.json", cwd=project)
    assert missing.returncode == 2
    assert "baseline file not found: nope.json (create it with --update-baseline)" in missing.stderr
    (project / "bad.json").write_text("[1, 2]")
    assert "is not an Exhort baseline" in exhort("check", "--baseline", "bad.json", cwd=project).stderr
    alone = exhort("check", "--update-baseline", cwd=project)
    assert alone.returncode == 2 and "--update-baseline needs --baseline FILE" in alone.stderr
