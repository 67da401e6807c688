"""The hooks of .pre-commit-hooks.yaml, run by pre-commit itself on a throwaway repository.

pre-commit installs Exhort into a virtualenv of its own from a snapshot of this working tree
(committed into a scratch repository, so uncommitted work is what gets tested), then runs
the hooks on a commit of a small Mix project, as `git commit` does for a user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(900)

STATS = """\
defmodule App.Stats do
  def any?(items), do: length(items) > 0

  def kind(params), do: String.to_atom(params["kind"])
end
"""
CLEAN = """\
defmodule App.Clean do
  def any?(items), do: items != []
end
"""


def run(command: list[str], cwd: Path, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("home")
    environment = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    environment.update({
        "HOME": str(home), "PRE_COMMIT_HOME": str(home / "pre-commit"), "NO_COLOR": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
    })
    return environment


@pytest.fixture(scope="module")
def hook_repository(tmp_path_factory, env) -> tuple[str, str]:
    """This working tree, tracked and new files alike, as one commit of a scratch repository."""
    snapshot = tmp_path_factory.mktemp("exhort-repository")
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT, env).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name)
    run(["git", "init", "-q"], snapshot, env)
    run(["git", "add", "-A"], snapshot, env)
    run(["git", "commit", "-q", "-m", "snapshot"], snapshot, env)
    return str(snapshot), run(["git", "rev-parse", "HEAD"], snapshot, env).stdout.strip()


def make_project(root: Path, hook_repository: tuple[str, str], hook: str, env: dict) -> Path:
    repository, revision = hook_repository
    files = {
        "mix.exs": "defmodule App.MixProject do\n  use Mix.Project\nend\n",
        "lib/app/stats.ex": STATS,
        "lib/app/clean.ex": CLEAN,
        "README.md": "not Elixir\n",
        ".pre-commit-config.yaml": textwrap.dedent(f"""\
            repos:
              - repo: {repository}
                rev: {revision}
                hooks:
                  - id: {hook}
            """),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    run(["git", "init", "-q"], root, env)
    run([sys.executable, "-m", "pre_commit", "install"], root, env)
    run(["git", "add", "-A"], root, env)
    return root


def test_the_exhort_hook_blocks_a_commit_with_findings(tmp_path, hook_repository, env):
    project = make_project(tmp_path, hook_repository, "exhort", env)
    refused = run(["git", "commit", "-m", "first"], project, env, check=False)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert "exhort" in output and "Failed" in output
    assert "lib/app/stats.ex:4:25: warning: SEC001" in output
    assert "lib/app/stats.ex:2:24: information: PRF001 [*]" in output
    assert "Found 2 problems (1 warning, 1 information) in 1 file; 3 files checked." in output
    # the user fixes the code; the commit goes through, and the cache never gets committed
    (project / "lib/app/stats.ex").write_text(CLEAN.replace("App.Clean", "App.Stats"))
    run(["git", "add", "-A"], project, env)
    accepted = run(["git", "commit", "-q", "-m", "first"], project, env, check=False)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    committed = run(["git", "ls-files"], project, env).stdout.split()
    assert not any(name.startswith(".exhort_cache") for name in committed), committed


def test_the_exhort_fix_hook_applies_safe_fixes(tmp_path, hook_repository, env):
    project = make_project(tmp_path, hook_repository, "exhort-fix", env)
    result = run([sys.executable, "-m", "pre_commit", "run"], project, env, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "files were modified by this hook" in output, output
    assert "def any?(items), do: items != []" in (project / "lib/app/stats.ex").read_text()
    assert "String.to_atom" in (project / "lib/app/stats.ex").read_text()  # offered fixes are not applied
    assert "Fixed 1 problem." in output and "warning: SEC001" in output
