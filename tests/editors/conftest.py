"""Fixtures for the real-editor tests: install the editors with the project's own scripts
(editors/scripts/install-*.sh, idempotent, cached under .cache/editors/) and give every
editor process an environment whose PATH starts with this interpreter's bin folder, so the
`exhort` they start is the one under test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EDITORS = ROOT / "editors"
SCRIPTS = EDITORS / "scripts"
CACHE = ROOT / ".cache" / "editors"
HERE = Path(__file__).resolve().parent

# A known finding: PRF001 with the safe fix `items != []`. The string before it holds a
# two-byte and a four-byte UTF-8 character (one of them outside the BMP), so a client and
# the server disagreeing on the position encoding (utf-8 / utf-16 / utf-32) shows up.
SAMPLE = 'defmodule Sample do\n  def any?(items, _tag \\\\ "é😀"), do: length(items) > 0\nend\n'
FIXED = 'defmodule Sample do\n  def any?(items, _tag \\\\ "é😀"), do: items != []\nend\n'
EXPLANATION = "walk the whole collection"  # from PRF001's explanation (`exhort explain PRF001`)


def run_install(script: str, *args: str, timeout: float, scripts: Path = SCRIPTS) -> Path:
    """Run an install script; return the path it prints last. Timing goes to stderr.

    When the script fails (no root for apt-get, no registry, ...) the tests that need the
    editor skip with a one-line reason, or fail when EXHORT_REQUIRE_EDITORS=1."""
    started = time.monotonic()
    try:
        proc = subprocess.run(
            ["bash", str(scripts / script), *args], capture_output=True, text=True, timeout=timeout
        )
        returncode, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as error:
        partial = error.stderr or ""
        partial = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
        returncode, stderr = "timeout", f"{partial}\nno end after {timeout:.0f} s"
    print(f"{script}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    if returncode != 0:
        # .ci/run sets EXHORT_REQUIRE_EDITORS=1: CI never passes without having run them.
        if os.environ.get("EXHORT_REQUIRE_EDITORS") == "1":
            pytest.fail(f"{script} failed ({returncode}):\n{stderr[-6000:]}", pytrace=False)
        last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "no output")
        pytest.skip(f"{script} could not install the editor ({returncode}: {last[:160]}); "
                    "EXHORT_REQUIRE_EDITORS=1 makes this a failure")
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def editor_env(tmp_path_factory) -> dict[str, str]:
    """Environment for editor processes: this venv's bin first on PATH, a private HOME."""
    bin_dir = Path(sys.executable).parent  # not resolved: the venv's bin, not the base Python's
    exhort = shutil.which("exhort", path=str(bin_dir))
    assert exhort, f"no exhort executable next to {sys.executable}"
    home = tmp_path_factory.mktemp("editor-home")
    env = dict(os.environ)
    env.update(
        # rass from install-emacs.sh outside a virtualenv lives in .cache/editors/rass/bin.
        PATH=os.pathsep.join([str(bin_dir), env.get("PATH", ""), str(CACHE / "rass" / "bin")]),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        TMPDIR=str(tmp_path_factory.mktemp("editor-tmp")),
    )
    return env


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A tiny Mix project whose lib/sample.ex has one PRF001 finding."""
    (tmp_path / "mix.exs").write_text("defmodule Sample.MixProject do\n  use Mix.Project\nend\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "sample.ex").write_text(SAMPLE, encoding="utf-8")
    return tmp_path


@pytest.fixture(scope="session")
def nvim() -> Path:
    return run_install("install-nvim.sh", sys.executable, timeout=600)


@pytest.fixture(scope="session")
def emacs() -> Path:
    return run_install("install-emacs.sh", sys.executable, timeout=900)


@pytest.fixture(scope="session")
def code_server() -> Path:
    return run_install("install-code-server.sh", timeout=1500)


@pytest.fixture(scope="session")
def vsix(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vsix") / "exhort.vsix"
    return run_install("../vscode/package.sh", str(out), timeout=900)


def read_report(path: Path, proc: subprocess.CompletedProcess | None = None) -> dict:
    """The editor's JSON report, with the editor process's own output attached."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = {"message": f"the editor wrote no report to {path}"}
    if proc is not None:
        report["process_output"] = (
            f"exit status {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-5000:]}"
        )
    return report


# Report entries printed as they are (logs), after everything else.
LOGS = ("events", "stderr", "messages", "lsp_log", "exhort_output", "process_output")


def describe_failure(report: dict) -> str:
    """What went wrong, for a person: the editor's message, the steps it reached, every
    diagnostic it saw, the rest of the report, then the logs (LSP traffic, stderr)."""
    lines = [
        f"editor says: {report.get('message') or report.get('error') or '(nothing)'}",
        f"steps reached: {report.get('steps')}",
        "diagnostics seen: " + json.dumps(report.get("diagnostics_seen", "(not recorded)"), indent=2, ensure_ascii=False),
    ]
    rest = {k: v for k, v in report.items() if k not in LOGS and k not in ("message", "error", "steps", "diagnostics_seen")}
    lines.append("report: " + json.dumps(rest, indent=2, ensure_ascii=False)[-6000:])
    for key in LOGS:
        if report.get(key):
            lines.append(f"===== {key} (tail) =====\n{str(report[key])[-12000:]}")
    return "\n".join(lines)


def assert_common(report: dict) -> None:
    """What every editor must have seen: the diagnostic, its hover, the fix, the cleared diagnostic."""
    context = describe_failure(report)
    assert report.get("ok") is True, context
    assert report["diagnostic"]["code"] == "PRF001", context
    # The range must cover exactly the offending expression, whatever the position encoding.
    assert report["diagnostic"]["covers"] == "length(items) > 0", context
    assert "PRF001" in report["hover"] and EXPLANATION in report["hover"], context
    assert "Replace with items != []" in report["actions"], context
    assert report["applied"] == "Replace with items != []", context
    assert report["steps"][-2:] == ["fix applied", "diagnostic cleared"], context
