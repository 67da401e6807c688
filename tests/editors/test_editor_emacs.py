"""Emacs 28 + Eglot 1.9 (Debian) with the shipped editors/emacs/exhort.el."""

import subprocess

import pytest

from conftest import EDITORS, FIXED, HERE, assert_common, read_report


@pytest.mark.timeout(900)
def test_emacs_eglot_diagnostic_hover_and_quick_fix(emacs, editor_env, sample_project, tmp_path):
    report_path = tmp_path / "report.json"
    env = dict(
        editor_env,
        EXHORT_EL=str(EDITORS / "emacs" / "exhort.el"),
        EXHORT_FILE=str(sample_project / "lib" / "sample.ex"),
        EXHORT_REPORT=str(report_path),
    )
    # -q, not -Q: Debian's site-start is what puts the packaged Eglot on the load-path.
    proc = subprocess.run(
        [str(emacs), "--batch", "-q", "-l", str(HERE / "emacs_check.el")],
        cwd=sample_project, env=env, capture_output=True, text=True, timeout=120,
    )
    report = read_report(report_path)
    assert report, f"no report (rc {proc.returncode}): {proc.stdout}\n{proc.stderr}"
    report["stderr"] = proc.stderr[-3000:]
    assert_common(report)
    assert report["server_class"] == "exhort-eglot-server"
    assert report["command"] == ["exhort", "serve"]
    assert report["buffer"] == FIXED
