"""What `exhort check` shows by default: hints are counted, not shown (issue 14, item 3)."""

from __future__ import annotations

import json

import pytest

from helpers import exhort, write_project

HINTS = """
defmodule App.Report do
  def sync(value), do: IO.puts(value)
  def any?(q), do: App.Repo.aggregate(q, :count, :id) >= 1
end
"""
WARNING = """
defmodule App.Kinds do
  def kind(params), do: String.to_atom(params["kind"])
end
"""


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path, {"lib/app/report.ex": HINTS, "lib/app/kinds.ex": WARNING})


def test_text_hides_hints_and_says_how_to_show_them(project):
    result = exhort("check", cwd=project)
    assert result.returncode == 1
    assert "STY001" not in result.stdout and "PRF002" not in result.stdout
    assert "Found 1 problem (1 warning) in 1 file; 3 files checked." in result.stdout
    assert "2 hints not shown; `--min-severity hint` shows them." in result.stdout


def test_hints_alone_do_not_fail_the_run(tmp_path):
    project = write_project(tmp_path, {"lib/app/report.ex": HINTS})
    result = exhort("check", cwd=project)
    assert result.returncode == 0
    assert "All checks passed (2 files checked).\n2 hints not shown" in result.stdout


def test_min_severity_hint_shows_everything(project):
    result = exhort("check", "--min-severity", "hint", cwd=project)
    assert "hint: STY001 IO.puts" in result.stdout and "hint: PRF002 " in result.stdout
    assert "Found 3 problems (1 warning, 2 hints) in 2 files; 3 files checked." in result.stdout
    assert "not shown" not in result.stdout


def test_min_severity_error_hides_warnings_too(project):
    result = exhort("check", "--min-severity", "error", cwd=project)
    assert result.returncode == 0
    assert "3 findings (1 warning, 2 hints) not shown; `--min-severity hint` shows them." in result.stdout


@pytest.mark.parametrize("output", ["json", "sarif", "github"])
def test_every_format_has_the_same_default(project, output):
    def codes(*args):
        result = exhort("check", "--format", output, *args, cwd=project)
        if output == "json":
            return sorted(item["code"] for item in json.loads(result.stdout)), result
        if output == "sarif":
            return sorted(r["ruleId"] for r in json.loads(result.stdout)["runs"][0]["results"]), result
        return sorted(line.split("title=")[1].split()[0] for line in result.stdout.splitlines()), result

    default, result = codes()
    assert default == ["SEC001"] and result.returncode == 1
    assert "exhort: 2 hints not shown; `--min-severity hint` shows them." in result.stderr
    everything, _ = codes("--min-severity", "hint")
    assert everything == ["PRF002", "SEC001", "STY001"]


def test_a_rule_asked_for_by_name_is_shown_at_any_severity(project):
    by_code = exhort("check", "--select", "STY001", cwd=project)
    assert "hint: STY001" in by_code.stdout and by_code.returncode == 1
    by_name = exhort("check", "--select", "io-output-in-lib", cwd=project)
    assert "hint: STY001" in by_name.stdout
    by_prefix = exhort("check", "--select", "STY", cwd=project)
    assert "STY001" not in by_prefix.stdout and "1 hint not shown" in by_prefix.stdout


def test_a_severity_raised_in_the_config_is_shown(project):
    (project / ".exhort.toml").write_text('[rules.STY001]\nseverity = "warning"\n')
    assert "warning: STY001" in exhort("check", cwd=project).stdout


def test_fix_applies_only_the_fixes_of_reported_findings(tmp_path):
    project = write_project(tmp_path, {"lib/app/count.ex": "defmodule App.Count do\n  def any?(x), do: length(x) > 0\nend\n"})
    exhort("check", "--fix", "--min-severity", "warning", cwd=project)  # PRF001 is information: hidden
    assert "length(x) > 0" in (project / "lib/app/count.ex").read_text()
    exhort("check", "--fix", cwd=project)
    assert "length(x) > 0" not in (project / "lib/app/count.ex").read_text()
