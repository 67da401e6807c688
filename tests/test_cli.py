"""`exhort` as users meet it: a subprocess over a project on disk."""

from __future__ import annotations

import json

import pytest

from helpers import STATS, exhort, write_project

BAD = STATS
CLEAN = """
defmodule App.Clean do
  def any?(items), do: items != []
end
"""


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path, {"lib/app/stats.ex": BAD, "lib/app/clean.ex": CLEAN})


def test_text_output_and_exit_code(project):
    result = exhort("check", cwd=project)
    assert result.returncode == 1
    assert "lib/app/stats.ex:2:24: information: PRF001 [*] length/1" in result.stdout
    assert "lib/app/stats.ex:5:5: warning: SEC001" in result.stdout
    assert "    5 |     String.to_atom(params[\"kind\"])" in result.stdout
    assert "^~~~" in result.stdout
    assert "Found 2 problems (1 warning, 1 information) in 1 file; 3 files checked." in result.stdout
    assert "[*] 1 fixable" in result.stdout


def test_clean_project_exits_zero(tmp_path):
    project = write_project(tmp_path, {"lib/app/clean.ex": CLEAN})
    result = exhort("check", ".", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed" in result.stdout


def test_exit_zero_select_and_ignore(project):
    assert exhort("check", "--exit-zero", cwd=project).returncode == 0
    selected = exhort("check", "--select", "PRF", "--format", "json", cwd=project)
    assert [item["code"] for item in json.loads(selected.stdout)] == ["PRF001"]
    ignored = exhort("check", "--ignore", "PRF001,SEC", "--format", "json", cwd=project)
    assert ignored.returncode == 0 and json.loads(ignored.stdout) == []


def test_json_format(project):
    result = exhort("check", "--format", "json", cwd=project)
    items = json.loads(result.stdout)
    first = items[0]
    assert set(first) >= {"code", "name", "severity", "message", "path", "line", "column", "end_line",
                          "end_column", "fix"}
    assert (first["code"], first["name"], first["severity"]) == ("PRF001", "expensive-empty-check", "information")
    assert (first["line"], first["column"], first["end_line"], first["end_column"]) == (2, 24, 2, 41)
    assert first["fix"]["applicability"] == "safe"
    assert first["fix"]["edits"] == [
        {"line": 2, "column": 24, "end_line": 2, "end_column": 41, "content": "items != []"}
    ]
    assert items[1]["fix"]["applicability"] == "unsafe"


def test_columns_count_characters(tmp_path):
    project = write_project(tmp_path, {"lib/app/u.ex": 'defmodule U do\n  def f(x), do: {"é😀", length(x) == 0}\nend\n'})
    item = json.loads(exhort("check", "--format", "json", cwd=project).stdout)[0]
    assert (item["line"], item["column"]) == (2, 24)  # 28 if it counted bytes


def test_sarif_structure(project):
    result = exhort("check", "--format", "sarif", cwd=project)
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    run = sarif["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "exhort"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert "SEC001" in rule_ids
    sec = driver["rules"][rule_ids.index("SEC001")]
    assert sec["help"]["markdown"].startswith("## SEC001 unsafe-atom-creation")
    assert sec["defaultConfiguration"]["level"] == "warning"
    for result_item in run["results"]:
        assert driver["rules"][result_item["ruleIndex"]]["id"] == result_item["ruleId"]
        assert result_item["level"] in ("error", "warning", "note")
        region = result_item["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        uri = result_item["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == "lib/app/stats.ex"


def test_github_format(project):
    lines = exhort("check", "--format", "github", cwd=project).stdout.splitlines()
    assert lines[0].startswith("::notice file=lib/app/stats.ex,line=2,col=24,endLine=2,endColumn=41,")
    assert "title=PRF001 expensive-empty-check::" in lines[0]
    assert lines[1].startswith("::warning file=lib/app/stats.ex,line=5,col=5")


def test_fix_applies_safe_fixes_and_reports_the_rest(project):
    result = exhort("check", "--fix", "--format", "json", cwd=project)
    assert result.returncode == 1
    assert [item["code"] for item in json.loads(result.stdout)] == ["SEC001"]
    assert "Fixed 1 problem" in result.stderr
    text = (project / "lib/app/stats.ex").read_text()
    assert "def any?(items), do: items != []" in text
    assert "String.to_atom" in text  # an offered fix is never applied


def test_diff_writes_nothing(project):
    before = (project / "lib/app/stats.ex").read_text()
    result = exhort("check", "--diff", cwd=project)
    assert result.returncode == 1
    assert "-  def any?(items), do: length(items) > 0" in result.stdout
    assert "+  def any?(items), do: items != []" in result.stdout
    assert (project / "lib/app/stats.ex").read_text() == before


def test_statistics(project):
    out = exhort("check", "--statistics", cwd=project).stdout
    assert "     1  PRF001  expensive-empty-check [*]" in out
    assert "     1  SEC001  unsafe-atom-creation" in out


def test_config_select_ignore_and_severity(project):
    (project / ".exhort.toml").write_text('ignore = ["SEC"]\n\n[rules.PRF001]\nseverity = "error"\n')
    items = json.loads(exhort("check", "--format", "json", cwd=project).stdout)
    assert [(i["code"], i["severity"]) for i in items] == [("PRF001", "error")]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('selekt = ["SEC"]\n', ".exhort.toml:1: unknown key 'selekt' (did you mean 'select'?)"),
        ('select = ["SEC00"]\nignore = ["PRF0011"]\n', ".exhort.toml:2: unknown rule code 'PRF0011'"),
        ('select = "SEC"\n', ".exhort.toml:1: 'select' must be a list of strings"),
        ('[rules.SEC001]\nseverity = "loud"\n', ".exhort.toml:2: unknown severity 'loud'"),
        ('[rules.SEX001]\nseverity = "error"\n', ".exhort.toml:1: unknown rule code 'SEX001' (did you mean 'SEC001'?)"),
        ("select = [\n", ".exhort.toml:"),
    ],
)
def test_config_errors_exit_2(project, config, expected):
    (project / ".exhort.toml").write_text(config)
    result = exhort("check", cwd=project)
    assert result.returncode == 2
    assert expected in result.stderr


def test_unknown_select_on_command_line(project):
    result = exhort("check", "--select", "XYZ9", cwd=project)
    assert result.returncode == 2 and "unknown rule code 'XYZ9'" in result.stderr


def test_excludes(project):
    write_project(project, {"deps/dep/lib/dep.ex": BAD, "priv/gen/gen.ex": BAD})
    (project / ".exhort.toml").write_text('extend-exclude = ["priv/gen/"]\n')
    paths = {item["path"] for item in json.loads(exhort("check", "--format", "json", cwd=project).stdout)}
    assert paths == {"lib/app/stats.ex"}


def test_bad_files_are_reported_and_skipped(project):
    (project / "lib/app/latin1.ex").write_bytes(b"defmodule L do\n  def f, do: \"caf\xe9\"\nend\n")
    (project / "lib/app/broken.ex").write_text("defmodule Broken do\n  def f(x, do: length(x) > 0\n")
    result = exhort("check", "--format", "json", cwd=project)
    assert result.returncode == 1
    assert "skipped lib/app/latin1.ex: not UTF-8" in result.stderr
    assert {(i["path"], i["code"]) for i in json.loads(result.stdout)} == {
        ("lib/app/stats.ex", "PRF001"), ("lib/app/stats.ex", "SEC001"), ("lib/app/broken.ex", "EXH002")}


def test_parallel_matches_serial(project):
    for number in range(12):
        write_project(project, {f"lib/app/copy_{number}.ex": BAD.replace("App.Stats", f"App.Stats{number}")})
    serial = exhort("check", "--format", "json", "--jobs", "1", cwd=project)
    parallel = exhort("check", "--format", "json", "--jobs", "2", cwd=project)
    assert json.loads(serial.stdout) == json.loads(parallel.stdout)
    assert len(json.loads(serial.stdout)) == 26


def test_unused_suppressions_are_opt_in(tmp_path):
    source = "defmodule S do\n  # exhort:disable-next-line SEC001\n  def f(x), do: x\nend\n"
    project = write_project(tmp_path, {"lib/s.ex": source})
    assert exhort("check", cwd=project).returncode == 0
    result = exhort("check", "--report-unused-suppressions", "--format", "json", cwd=project)
    assert [i["code"] for i in json.loads(result.stdout)] == ["EXH001"]


def test_explain_rules_and_version(tmp_path):
    explained = exhort("explain", "SEC001", "--format", "markdown", cwd=tmp_path)
    assert explained.returncode == 0 and explained.stdout.startswith("## SEC001 unsafe-atom-creation")
    unknown = exhort("explain", "SEC0001", cwd=tmp_path)
    assert unknown.returncode == 2 and "did you mean" in unknown.stderr
    table = exhort("rules", cwd=tmp_path).stdout
    assert "PRF001  expensive-empty-check" in table
    listed = json.loads(exhort("rules", "--format", "json", cwd=tmp_path).stdout)
    assert {"code": "OBN003", "name": "perform-arity"}.items() <= next(r for r in listed if r["code"] == "OBN003").items()
    assert exhort("--version", cwd=tmp_path).stdout.startswith("exhort ")


def test_missing_path_is_an_error(tmp_path):
    result = exhort("check", "nope/", cwd=tmp_path)
    assert result.returncode == 2 and "no such file or directory: nope/" in result.stderr


def test_a_reader_that_stops_early_is_no_error(tmp_path):
    """`exhort check | head`: the closed pipe ends the run quietly, without a traceback."""
    import subprocess
    import sys

    write_project(tmp_path, {f"lib/app/stats{n}.ex": BAD for n in range(40)})
    process = subprocess.Popen(
        [sys.executable, "-m", "exhort", "check", "--jobs", "1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(40)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


# -- a fix that edits another file (OBN012 declares the queue in config/config.exs) -------------

QUEUE_WORKER = """
defmodule App.Report do
  use Oban.Worker, queue: :reports
  def perform(_job), do: :ok
  def empty?(items), do: length(items) == 0
end
"""
QUEUE_CONFIG = "import Config\nconfig :app, Oban,\n  queues: [default: 10]\n"


@pytest.fixture
def queue_project(tmp_path):
    return write_project(tmp_path, {"lib/app/report.ex": QUEUE_WORKER, "config/config.exs": QUEUE_CONFIG})


def test_fix_never_writes_another_file_and_json_names_its_path(queue_project):
    diff = exhort("check", "--diff", cwd=queue_project)
    assert "config/config.exs" not in diff.stdout and "+  def empty?(items), do: items == []" in diff.stdout
    result = exhort("check", "--fix", "--format", "json", cwd=queue_project)
    assert (queue_project / "config/config.exs").read_text() == QUEUE_CONFIG  # the offered fix is not applied
    assert "def empty?(items), do: items == []" in (queue_project / "lib/app/report.ex").read_text()  # a safe one is
    [item] = json.loads(result.stdout)
    assert item["code"] == "OBN012" and item["fix"]["applicability"] == "unsafe"
    assert item["fix"]["edits"] == [
        {"line": 3, "column": 23, "end_line": 3, "end_column": 23, "content": ", reports: 10", "path": "config/config.exs"}
    ]
    assert item["related"][0]["path"] == "config/config.exs"


def test_sarif_fix_changes_the_other_file(queue_project):
    sarif = json.loads(exhort("check", "--format", "sarif", "--select", "OBN012", cwd=queue_project).stdout)
    [result] = sarif["runs"][0]["results"]
    [change] = result["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "config/config.exs", "uriBaseId": "%SRCROOT%"}
    assert change["replacements"][0]["deletedRegion"] == {"startLine": 3, "startColumn": 23, "endLine": 3, "endColumn": 23}


def test_each_file_takes_the_nearest_config_above_it(tmp_path):
    project = write_project(tmp_path, {
        "lib/a.ex": STATS,
        "apps/inner/lib/b.ex": STATS.replace("App.Stats", "Inner.Stats"),
        "apps/inner/lib/deep/c.ex": STATS.replace("App.Stats", "Inner.Deep"),
        "apps/other/lib/d.ex": STATS.replace("App.Stats", "Other.Stats"),
    })
    (project / ".exhort.toml").write_text('ignore = ["SEC001"]\n')
    (project / "apps" / "inner" / ".exhort.toml").write_text('ignore = ["PRF001"]\n')
    items = json.loads(exhort("check", "--format", "json", "--no-cache", cwd=project).stdout)
    assert sorted((i["path"], i["code"]) for i in items) == [
        ("apps/inner/lib/b.ex", "SEC001"), ("apps/inner/lib/deep/c.ex", "SEC001"),
        ("apps/other/lib/d.ex", "PRF001"), ("lib/a.ex", "PRF001"),
    ]
