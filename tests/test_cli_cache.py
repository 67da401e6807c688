"""The result cache of `exhort check` (issue 16): a second run of unchanged code checks nothing."""

from __future__ import annotations

import json
import re

import pytest

from helpers import edit, exhort, write_project

WORKER = """
defmodule App.Report do
  use Oban.Worker, queue: :reports
  def perform(_job), do: :ok
end
"""
CONFIG = "import Config\nconfig :app, Oban,\n  queues: [default: 10]\n"
STATS = """
defmodule App.Stats do
  def any?(items), do: length(items) > 0
  def kind(params), do: String.to_atom(params["kind"])
end
"""


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path, {"lib/app/report.ex": WORKER, "config/config.exs": CONFIG,
                                    "lib/app/stats.ex": STATS})



def counts(result) -> tuple[int, int]:
    """(results taken from the cache, files checked) from the --verbose line."""
    match = re.search(r"to check: (\d+) from the cache, (\d+) checked", result.stderr)
    assert match, result.stderr
    return int(match.group(1)), int(match.group(2))


def test_a_second_run_checks_nothing_and_says_the_same(project):
    for output in ("text", "json", "sarif"):
        first = exhort("check", "-v", "--format", output, "--min-severity", "hint", cwd=project)
        second = exhort("check", "-v", "--format", output, "--min-severity", "hint", cwd=project)
        assert second.stdout == first.stdout and second.returncode == first.returncode == 1
        assert counts(second) == (4, 0), second.stderr
        assert "4 files indexed: 4 from the cache, 0 read" in second.stderr
    assert (project / ".exhort_cache/.gitignore").read_text().splitlines()[-1] == "*"
    assert (project / ".exhort_cache/CACHEDIR.TAG").exists()


def test_an_edit_rechecks_the_file_and_those_that_read_its_facts(project):
    exhort("check", cwd=project)
    edit(project, "lib/app/stats.ex", "length(items) > 0", "items != []")
    edited = exhort("check", "-v", "--format", "json", cwd=project)
    assert counts(edited) == (3, 1)
    assert [i["code"] for i in json.loads(edited.stdout)] == ["OBN012", "SEC001"]
    # declaring the queue changes the Oban facts: the worker is checked again, the stats are not
    edit(project, "config/config.exs", "default: 10", "default: 10, reports: 5")
    declared = exhort("check", "-v", "--format", "json", cwd=project)
    assert counts(declared) == (2, 2)  # config/config.exs itself and the worker that reads its queues
    assert [i["code"] for i in json.loads(declared.stdout)] == ["SEC001"]


def test_configuration_and_flags_are_part_of_the_key(project):
    exhort("check", cwd=project)
    (project / ".exhort.toml").write_text('ignore = ["SEC001"]\n')
    result = exhort("check", "-v", "--format", "json", cwd=project)
    assert counts(result) == (0, 4)
    assert "SEC001" not in {i["code"] for i in json.loads(result.stdout)}
    assert counts(exhort("check", "-v", "--report-unused-suppressions", cwd=project))[1] == 4


def test_no_cache_reads_and_writes_nothing(project):
    result = exhort("check", "-v", "--no-cache", cwd=project)
    assert not (project / ".exhort_cache").exists()
    assert "; no cache;" in result.stderr


def test_clean_removes_the_cache(project):
    exhort("check", cwd=project)
    assert (project / ".exhort_cache").is_dir()
    result = exhort("clean", cwd=project)
    assert result.returncode == 0 and "Removed .exhort_cache." in result.stdout
    assert not (project / ".exhort_cache").exists()
    assert "No cache to remove" in exhort("clean", cwd=project).stdout


def test_a_damaged_cache_is_a_miss_and_runs_nothing(project):
    first = exhort("check", "--format", "json", cwd=project)
    entries = list((project / ".exhort_cache").rglob("*.json"))
    assert entries
    for number, entry in enumerate(entries):
        data = json.loads(entry.read_text())
        if number % 2:
            entry.write_text("{not json")
        else:  # a class from outside Exhort must never be built
            data["facts"] = json.dumps({"modules": {"c": "os:system", "v": {}}})
            data["results"] = {key: {"reads": {"facts": {}, "roots": {}}, "findings": [{"code": 1}]}
                               for key in data.get("results", {})}
            entry.write_text(json.dumps(data))
    again = exhort("check", "--format", "json", cwd=project)
    assert again.returncode == first.returncode and json.loads(again.stdout) == json.loads(first.stdout)
    assert "Traceback" not in again.stderr


def test_a_file_checked_alone_sees_its_whole_project(project):
    """A pre-commit hook passes the changed files only: cross-file rules still read the project."""
    [item] = json.loads(exhort("check", "--format", "json", "--no-cache", "lib/app/report.ex", cwd=project).stdout)
    assert item["code"] == "OBN012" and item["related"][0]["path"] == "config/config.exs"
