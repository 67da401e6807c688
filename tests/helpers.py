"""Helpers shared by the CLI tests: run `exhort` as a subprocess in a temporary project."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


# A module with one finding that has a safe fix (PRF001) and one that has none (SEC001).
STATS = """
defmodule App.Stats do
  def any?(items), do: length(items) > 0

  def parse(params) do
    String.to_atom(params["kind"])
  end
end
"""


def edit(project: Path, relative: str, old: str, new: str) -> None:
    """Replace `old` (which must be there) with `new` in a file of the project."""
    path = project / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new))


def write_project(root: Path, files: dict[str, str]) -> Path:
    (root / "mix.exs").write_text("defmodule App.MixProject do\n  use Mix.Project\nend\n")
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def exhort(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "exhort", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    if check and result.returncode not in (0, 1):
        raise AssertionError(result.stderr)
    return result
