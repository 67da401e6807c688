"""How `exhort check` spreads files over worker processes: each file is read and parsed once
per run (facts for the index, then the check, from the same parsed document), files whose
cached result holds are not parsed at all, and a worker that dies ends the run with an error
instead of leaving it waiting."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from exhort.cli import main as cli_main
from exhort.cli import runner
from exhort.document import Document

from helpers import STATS, edit, write_project

FILES = 12  # enough for worker processes (fewer files are checked in the main process)
ONCE_EACH = Counter({"mix.exs": 1, **{f"stats_{n}.ex": 1 for n in range(FILES)}})  # mix.exs: indexed, not checked


def many_files(tmp_path: Path) -> Path:
    tmp_path.mkdir()
    return write_project(tmp_path, {f"lib/app/stats_{n}.ex": STATS.replace("App.Stats", f"App.Stats{n}")
                                    for n in range(FILES)})


def count_parses(monkeypatch, log: Path) -> None:
    """Every Document made, in any process, appends its path to `log` (forked workers inherit
    the patch; a short append is atomic)."""
    made = Document.__init__

    def logged(self, path, *args, **kwargs):
        with open(log, "a") as out:
            out.write(f"{path}\n")
        made(self, path, *args, **kwargs)

    monkeypatch.setattr(Document, "__init__", logged)


def parses(log: Path) -> Counter:
    counts = Counter(Path(line).name for line in log.read_text().splitlines()) if log.exists() else Counter()
    log.unlink(missing_ok=True)
    return counts


def check(*arguments: str) -> int:
    return cli_main.main(["check", "--jobs", "2", "--no-progress", "--format", "json", *arguments, "lib"])


def test_each_file_is_parsed_once_per_run(tmp_path, monkeypatch, capsys):
    project = many_files(tmp_path / "project")
    log = tmp_path / "parses.log"
    count_parses(monkeypatch, log)
    monkeypatch.chdir(project)
    assert check("--no-cache") == 1
    assert parses(log) == ONCE_EACH
    assert capsys.readouterr().out.count('"code": "SEC001"') == FILES


def test_cached_files_are_not_parsed_and_a_changed_one_once(tmp_path, monkeypatch, capsys):
    project = many_files(tmp_path / "project")
    log = tmp_path / "parses.log"
    count_parses(monkeypatch, log)
    monkeypatch.chdir(project)
    monkeypatch.setenv("EXHORT_CACHE_DIR", str(tmp_path / "cache"))
    assert check() == 1
    first = capsys.readouterr().out
    assert parses(log) == ONCE_EACH
    assert check() == 1
    assert capsys.readouterr().out == first
    assert parses(log) == Counter()
    edit(project, "lib/app/stats_3.ex", "length(items) > 0", "items != []")
    assert check() == 1
    counts = parses(log)
    assert counts["stats_3.ex"] == 1 and max(counts.values()) == 1
    assert capsys.readouterr().out.count('"code": "PRF001"') == FILES - 1


def test_a_worker_that_dies_ends_the_run_with_an_error(tmp_path, monkeypatch, capsys):
    project = many_files(tmp_path / "project")
    read_one = runner._read_one

    def dies_on_one_file(given, path, needs_index):
        if path.endswith("stats_5.ex"):
            os._exit(3)
        return read_one(given, path, needs_index)

    monkeypatch.setattr(runner, "_read_one", dies_on_one_file)
    monkeypatch.chdir(project)
    assert check("--no-cache") == 2
    assert "a worker process ended without finishing its files" in capsys.readouterr().err


def test_a_file_reached_through_symbolic_links_is_checked_once(tmp_path, monkeypatch, capsys):
    project = many_files(tmp_path / "project")
    (project / "lib" / "app" / "also_stats_1.ex").symlink_to(project / "lib" / "app" / "stats_1.ex")
    (project / "lib" / "mirror").symlink_to(project / "lib" / "app", target_is_directory=True)
    (project / "lib" / "more").mkdir()
    (project / "lib" / "more" / "other.ex").write_text(STATS.replace("App.Stats", "App.Other"))
    (project / "lib" / "more_link").symlink_to(project / "lib" / "more", target_is_directory=True)
    monkeypatch.chdir(project)
    assert check("--no-cache") == 1
    out = capsys.readouterr().out
    assert out.count('"code": "SEC001"') == FILES + 1  # os.walk does not enter linked folders
    assert '"lib/app/also_stats_1.ex"' in out and '"lib/app/stats_1.ex"' not in out  # the same file: the first name found


def test_queries_are_compiled_before_the_workers_fork(tmp_path, monkeypatch, capsys):
    """Compiling a query costs milliseconds per pattern: workers inherit the compiled ones
    (the rules' groups and those checks and extractors run themselves) instead of each
    compiling them again."""
    from exhort import parsing

    project = many_files(tmp_path / "project")
    log = tmp_path / "compiled.log"
    compile_query = parsing.compile_query

    def logged(source, *args):
        with open(log, "a") as out:
            out.write(f"{os.getpid()}\n")
        return compile_query(source, *args)

    monkeypatch.setattr(parsing, "compile_query", logged)
    parsing.cached_query.cache_clear()  # as in a fresh process
    monkeypatch.chdir(project)
    assert check("--no-cache") == 1
    assert set(log.read_text().split()) == {str(os.getpid())}
    assert capsys.readouterr().out.count('"code": "SEC001"') == FILES
