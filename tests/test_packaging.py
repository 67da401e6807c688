"""The wheel carries the rules: a non-editable install finds every rule and checks the sample project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from exhort.registry import default_registry

ROOT = Path(__file__).resolve().parent.parent


def test_every_rule_pack_is_packaged():
    packages = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packs = {f"exhort_rules.{p.name}" for p in (ROOT / "rules").iterdir() if (p / "__init__.py").is_file()}
    assert packs <= packages, f"add to pyproject.toml packages: {sorted(packs - packages)}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`pip install .` (not editable) into a fresh target folder, from a built wheel."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(work.glob("exhort-*.whl"))
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    return target


def run_installed(target: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, "-m", "exhort", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_installed_wheel_finds_every_rule(installed, tmp_path):
    where = subprocess.run(
        [sys.executable, "-c", "import exhort, exhort_rules; print(exhort.__file__); print(exhort_rules.__file__)"],
        env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout.split()
    assert all(path.startswith(str(installed)) for path in where), where
    listed = json.loads(run_installed(installed, "rules", "--format", "json", cwd=tmp_path).stdout)
    assert [rule["code"] for rule in listed] == [rule.code for rule in default_registry().rules]


def test_installed_wheel_reports_every_rule_on_the_sample_project(installed):
    rules = default_registry().rules
    result = run_installed(installed, "check", "examples/", "--format", "json", "--report-unused-suppressions",
                           "--min-severity", "hint")
    assert result.returncode == 1, result.stderr
    found = {item["code"] for item in json.loads(result.stdout)}
    expected = {rule.code for rule in rules if rule.enabled_by_default}
    assert expected - found == set(), f"the sample project does not show {sorted(expected - found)}"
    # Rules that are off by default run only when named by code (exhort.config).
    off = sorted(rule.code for rule in rules if not rule.enabled_by_default)
    assert not found & set(off), f"rules off by default ran unasked: {sorted(found & set(off))}"
    if off:
        selected = run_installed(installed, "check", "examples/", "--format", "json", "--min-severity", "hint",
                                 "--select", ",".join(off))
        shown = {item["code"] for item in json.loads(selected.stdout)}
        assert set(off) - shown == set(), f"the sample project does not show {sorted(set(off) - shown)} when selected"
