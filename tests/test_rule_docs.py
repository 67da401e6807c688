"""The rule reference in docs/rules/: generated from the rules, never stale, and linked from
SARIF (`helpUri`) and from every LSP diagnostic (`codeDescription.href`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from exhort import REPOSITORY_URL, RULE_DOCS, rule_docs_url
from exhort.docs import INDEX, REGENERATE, render_rule, stale_pages
from exhort.registry import default_registry

from helpers import exhort, write_project

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / RULE_DOCS


def page_for(url: str) -> Path:
    """The file in this checkout that a rule link points at."""
    prefix = f"{REPOSITORY_URL}/blob/main/"
    assert url.startswith(prefix), url
    return ROOT / url[len(prefix):]


def test_rule_pages_are_current():
    problems = stale_pages(PAGES, default_registry())
    assert not problems, (
        f"{RULE_DOCS}/ is stale ({', '.join(problems)}). Regenerate it from the repository's root with\n"
        f"    .venv/bin/{REGENERATE}\n"
        "and commit the result."
    )


def test_page_holds_what_the_rule_says():
    registry = default_registry()
    rule = registry.by_code["PRF001"]
    page = render_rule(rule)
    assert page.splitlines()[2] == "# PRF001 expensive-empty-check"
    body = rule.explanation_markdown.splitlines()[1:]  # without its own `## PRF001 ...` title
    assert "\n".join(body).strip() in page
    assert "| Default severity | information |" in page and "| Since | 0.1.0 |" in page
    for example in rule.examples:
        assert example.code.rstrip("\n") in page
        if example.fixed:
            assert example.fixed.rstrip("\n") in page
    index = (PAGES / INDEX).read_text(encoding="utf-8")
    assert all(f"[{r.code}]({r.code}.md)" in index for r in registry.rules)


def test_check_command_names_a_stale_page_and_regenerates_it(tmp_path):
    pages = tmp_path / "rules"
    shutil.copytree(PAGES, pages)
    (pages / "SEC001.md").write_text("edited by hand\n")
    (pages / "OLD999.md").write_text("a rule that no longer exists\n")
    command = [sys.executable, "-m", "exhort.docs", "--out", str(pages)]
    check = subprocess.run([*command, "--check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 1
    assert "SEC001.md (out of date)" in check.stderr and "OLD999.md (no such rule)" in check.stderr
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    assert subprocess.run([*command, "--check"], capture_output=True, timeout=120).returncode == 0
    assert not (pages / "OLD999.md").exists()
    assert (pages / "SEC001.md").read_text() == (PAGES / "SEC001.md").read_text()


def test_sarif_rules_link_their_page(tmp_path):
    project = write_project(tmp_path, {"lib/a.ex": "defmodule A do\n  def f(x), do: length(x) == 0\nend\n"})
    sarif = json.loads(exhort("check", "--format", "sarif", cwd=project).stdout)
    driver = sarif["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == REPOSITORY_URL
    for rule in driver["rules"]:
        assert rule["helpUri"] == rule_docs_url(rule["id"])
        assert page_for(rule["helpUri"]).is_file(), rule["helpUri"]


def _send(stream, message: dict) -> None:
    body = json.dumps(message).encode()
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


def _receive(stream) -> dict:
    length = 0
    while (line := stream.readline()) not in (b"\r\n", b"\n"):
        assert line, "the server closed its output"
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(stream.read(length))


def test_lsp_diagnostics_link_their_page(tmp_path):
    """Over stdio, as an editor meets it: the diagnostic's code links to the rule's page."""
    server = subprocess.Popen(
        [sys.executable, "-m", "exhort", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        _send(server.stdin, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                             "params": {"processId": None, "rootUri": None, "capabilities": {}}})
        while _receive(server.stdout).get("id") != 1:
            pass
        _send(server.stdin, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        uri = (tmp_path / "a.ex").as_uri()
        _send(server.stdin, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "elixir", "version": 1,
            "text": "defmodule A do\n  def f(x), do: length(x) == 0\nend\n"}}})
        while True:
            message = _receive(server.stdout)
            if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["diagnostics"]:
                break
        [diagnostic] = message["params"]["diagnostics"]
        assert diagnostic["code"] == "PRF001"
        href = diagnostic["codeDescription"]["href"]
        assert href == f"{REPOSITORY_URL}/blob/main/docs/rules/PRF001.md"
        assert page_for(href).read_text(encoding="utf-8").startswith(
            render_rule(default_registry().by_code["PRF001"])[:200]
        )
        _send(server.stdin, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        while _receive(server.stdout).get("id") != 2:
            pass
        _send(server.stdin, {"jsonrpc": "2.0", "method": "exit"})
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()


def test_page_lists_a_rules_parameters():
    from exhort.findings import Severity
    from exhort.rule import Param, Rule

    rule = Rule(
        code="TST001", name="test-rule", category="style", severity=Severity.HINT, summary="A rule for this test",
        explanation="## TST001 test-rule\n\nWhy.", params={"max_depth": Param(3, "deepest nesting allowed")},
        since="0.2.0",
    )
    page = render_rule(rule)
    assert "max_depth = 3  # deepest nesting allowed" in page
    assert "| `max_depth` | `3` | deepest nesting allowed |" in page
    assert "| Since | 0.2.0 |" in page and "## TST001" not in page
