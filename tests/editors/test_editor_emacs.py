"""Emacs 28 + Eglot 1.9 (Debian) with the shipped editors/emacs/exhort.el: Exhort alone, and
beside a second language server through rassumfrassum (`rass`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EDITORS, FIXED, HERE, assert_common, describe_failure, read_report

STANDIN = [sys.executable, str(HERE / "standin_lsp.py")]


def run_emacs(emacs: Path, env: dict, project: Path, report_path: Path, **extra: str) -> dict:
    env = dict(
        env,
        EXHORT_EL=str(EDITORS / "emacs" / "exhort.el"),
        EXHORT_FILE=str(project / "lib" / "sample.ex"),
        EXHORT_REPORT=str(report_path),
        **extra,
    )
    # -q, not -Q: Debian's site-start is what puts the packaged Eglot on the load-path.
    proc = subprocess.run(
        [str(emacs), "--batch", "-q", "-l", str(HERE / "emacs_check.el")],
        cwd=project, env=env, capture_output=True, text=True, timeout=180,
    )
    return read_report(report_path, proc)


@pytest.mark.timeout(900)
def test_emacs_eglot_diagnostic_hover_and_quick_fix(emacs, editor_env, sample_project, tmp_path):
    report = run_emacs(
        emacs, editor_env, sample_project, tmp_path / "report.json",
        EXHORT_INIT_OPTIONS='(:severity (:PRF001 "warning"))',
    )
    assert_common(report)
    context = describe_failure(report)
    # exhort-initialization-options apply (PRF001 is information by default), and still do
    # after Eglot sends its workspace configuration (didChangeConfiguration).
    assert report["diagnostic"]["severity"] == 2, context
    assert report["severity_after_configuration"] == 2, context
    assert report["server_class"] == "exhort-eglot-server", context
    assert report["command"] == ["exhort", "serve"], context
    assert report["buffer"] == FIXED, context
    assert report["diagnostic"]["href"].endswith("/docs/rules/PRF001.md"), context


@pytest.mark.timeout(900)
def test_emacs_exhort_beside_another_server_through_rass(emacs, editor_env, sample_project, tmp_path):
    """exhort.el's combined setup: rass runs a stand-in main server first and Exhort second;
    both servers' diagnostics reach Flymake, both offer code actions, Exhort's fix applies."""
    # The stand-in answers `initialize` 8 s late. rass's own wait ends 3 s after the first
    # answer (Exhort's) and then leaves the late server out of the session: the shipped
    # preset must keep it in (its code action below proves rass knows its capabilities).
    report = run_emacs(
        emacs, editor_env, sample_project, tmp_path / "report.json",
        EXHORT_MAIN_SERVER=json.dumps(STANDIN), STANDIN_INITIALIZE_DELAY="8",
        EXHORT_INIT_OPTIONS='(:severity (:PRF001 "warning"))',
    )
    context = describe_failure(report)
    assert report.get("ok") is True, context
    preset = str(EDITORS / "emacs" / "exhort-rass-preset.py")
    assert report["command"] == ["rass", "--log-level", "warn", preset, "--", *STANDIN, "--", "exhort", "serve"], context
    # Exhort's finding, at the right place, and the main server's beside it.
    assert report["diagnostic"]["code"] == "PRF001", context
    assert report["diagnostic"]["covers"] == "length(items) > 0", context
    [main] = report["main_diagnostics"]
    assert (main["code"], main["covers"]) == ("STANDIN1", "defmodule"), context
    # exhort-initialization-options reach Exhort (PRF001 is information by default) and only
    # Exhort: the main server is given none.
    assert report["diagnostic"]["severity"] == 2, context
    assert report["severity_after_configuration"] == 2, context
    assert main["text"].endswith("(initializationOptions {})"), context
    # Hover goes to the main server (rass sends it to the first server).
    assert report["hover"] == "stand-in hover", context
    # Code actions come from both; Exhort's preferred quick fix is the one applied.
    assert "Stand-in action" in report["actions"] and "Replace with items != []" in report["actions"], context
    assert report["applied"] == "Replace with items != []", context
    assert report["buffer"] == FIXED, context
    # Exhort's diagnostic cleared for the new version; the main server's is still shown.
    assert report["steps"][-2:] == ["fix applied", "diagnostic cleared"], context
    assert [d["code"] for d in report["main_diagnostics_after"]] == ["STANDIN1"], context


@pytest.mark.timeout(900)
def test_emacs_failure_report_shows_diagnostics_and_events(emacs, editor_env, sample_project, tmp_path):
    """The failure path itself: a file without findings makes the check give up, and what
    it reports says why (the diagnostics Flymake had, the LSP traffic), not a Lisp error."""
    (sample_project / "lib" / "sample.ex").write_text(FIXED, encoding="utf-8")
    report = run_emacs(emacs, editor_env, sample_project, tmp_path / "report.json", EXHORT_WAIT="4")
    context = describe_failure(report)
    assert report.get("ok") is False, context
    assert report["message"] == "no diagnostic from exhort", context
    assert report["diagnostics_seen"] == [], context
    assert "textDocument/didOpen" in report["events"], context
    assert "textDocument/publishDiagnostics" in report["events"], context
    assert "failed:" not in json.dumps(report), context
    assert "editor says: no diagnostic from exhort" in context and "===== events (tail) =====" in context
