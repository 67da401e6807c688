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


def run_install(script: str, *args: str, timeout: float) -> Path:
    """Run an install script; return the path it prints last. Timing goes to stderr."""
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(SCRIPTS / script), *args], capture_output=True, text=True, timeout=timeout
    )
    elapsed = time.monotonic() - started
    print(f"{script}: {elapsed:.1f} s", file=sys.stderr)
    if proc.returncode != 0:
        pytest.fail(f"{script} failed (rc {proc.returncode}):\n{proc.stderr[-6000:]}", pytrace=False)
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
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
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
    return run_install("install-emacs.sh", timeout=900)


@pytest.fixture(scope="session")
def code_server() -> Path:
    return run_install("install-code-server.sh", timeout=1500)


@pytest.fixture(scope="session")
def vsix(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vsix") / "exhort.vsix"
    return run_install("../vscode/package.sh", str(out), timeout=900)


def read_report(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def assert_common(report: dict) -> None:
    """What every editor must have seen: the diagnostic, its hover, the fix, the cleared diagnostic."""
    assert report.get("ok") is True, json.dumps(report, indent=2, ensure_ascii=False)[-6000:]
    assert report["diagnostic"]["code"] == "PRF001"
    # The range must cover exactly the offending expression, whatever the position encoding.
    assert report["diagnostic"]["covers"] == "length(items) > 0"
    assert "PRF001" in report["hover"] and EXPLANATION in report["hover"]
    assert "Replace with items != []" in report["actions"]
    assert report["applied"] == "Replace with items != []"
    assert report["steps"][-2:] == ["fix applied", "diagnostic cleared"]
