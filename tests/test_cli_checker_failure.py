"""A file the checker fails on is not "checked": the run never passes in silence."""

from __future__ import annotations

from exhort.cli import main as cli_main
from exhort.engine import Engine

from helpers import write_project


def test_a_checker_failure_never_reads_as_all_checks_passed(tmp_path, monkeypatch, capsys):
    project = write_project(tmp_path, {"lib/app.ex": "defmodule App do\n  def f, do: :ok\nend\n"})

    def broken_check(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Engine, "check", broken_check)
    monkeypatch.chdir(project)
    code = cli_main.main(["check", "--jobs", "1", "--no-cache", "--no-progress", "lib"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "All checks passed" not in out
    assert "1 file not fully checked" in out
    assert "internal error: RuntimeError: boom" in err
