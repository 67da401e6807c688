"""initialize answered before the server is imported (exhort.lsp.early): from a client's
second start on, with the answer the server itself gives, and never for params the server
refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp

from raw_client import frame, frames

EARLY = "initialize was answered before the server was imported"
CLIENTS = Path(pytest_lsp.__file__).parent / "clients"


def _session(cache_home: Path, params: dict, *more: dict, command=None) -> tuple[list[dict], str]:
    """Start the server, write initialize and `more` at once, then shutdown and exit; the
    messages it sent, and its log."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        *more,
        {"jsonrpc": "2.0", "id": 99, "method": "shutdown", "params": None},
        {"jsonrpc": "2.0", "method": "exit", "params": None},
    ]
    done = subprocess.run(
        command or [sys.executable, "-m", "exhort.lsp", "--log-level", "info"],
        input=b"".join(frame(message) for message in messages),
        capture_output=True, env=dict(os.environ, XDG_CACHE_HOME=str(cache_home)), timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    return list(frames(done.stdout)), done.stderr.decode()


def _answer(messages: list[dict]) -> dict:
    return next(message for message in messages if message.get("id") == 1)


def _params(capabilities: dict, **more) -> dict:
    return {"processId": os.getpid(), "rootUri": None, "capabilities": capabilities, **more}


def _preset(name: str) -> dict:
    return json.loads((CLIENTS / name).read_text())["capabilities"]


CAPABILITIES = {
    "none": {},
    "neovim 0.11": _preset("neovim_v0.11.0.json"),
    "emacs 29": _preset("emacs_v29.1.json"),
    "vscode": _preset("visual_studio_code_v1.65.2.json"),
    "pulls diagnostics": {"textDocument": {"diagnostic": {"dynamicRegistration": False}}},
    "will-save said": {"textDocument": {"synchronization": {"willSave": True, "willSaveWaitUntil": False}}},
    "utf-32 before utf-8": {"general": {"positionEncodings": ["UTF-8", "utf-32", "utf-8"]}},
    "no known encoding": {"general": {"positionEncodings": ["utf-9"]}},
}


@pytest.mark.parametrize("name", CAPABILITIES)
def test_the_second_start_answers_early_with_the_servers_own_answer(tmp_path, name):
    params = _params(CAPABILITIES[name], clientInfo={"name": name}, workspaceFolders=[{"uri": tmp_path.as_uri(), "name": "a"}])
    first, first_log = _session(tmp_path, params)
    assert EARLY not in first_log
    # Another process id and other folders: the same client, started again elsewhere.
    params = {**params, "processId": os.getpid() + 1, "workspaceFolders": [], "rootUri": tmp_path.as_uri()}
    second, second_log = _session(tmp_path, params)
    assert EARLY in second_log
    assert "differs from the server's" not in second_log
    assert _answer(second) == _answer(first)
    assert "result" in _answer(second)


def test_the_console_script_answers_early_too(tmp_path):
    script = Path(sys.executable).with_name("exhort")
    if not script.exists():
        pytest.skip("no exhort console script beside this python")
    command = [str(script), "serve", "--log-level", "info"]
    first, _ = _session(tmp_path, _params({}), command=command)
    second, log = _session(tmp_path, _params({}), command=command)
    assert EARLY in log and _answer(second) == _answer(first)


def test_params_the_server_refuses_are_never_answered_early(tmp_path):
    refused = _params({"notebookDocument": {}})  # notebook capabilities need `synchronization`
    for _start in range(2):
        messages, log = _session(tmp_path, refused)
        assert _answer(messages)["error"]["code"] == -32602
        assert EARLY not in log
    # An unusual value in a per-start param is part of what was accepted: not answered early
    # on the strength of the usual shape.
    _session(tmp_path, _params({}))
    _messages, log = _session(tmp_path, _params({}, processId="1234"))
    assert EARLY not in log


def test_what_follows_initialize_in_the_same_write_is_read_by_the_server(tmp_path):
    uri = (tmp_path / "lib" / "a.ex").as_uri()
    text = "defmodule A do\n  def f(x), do: String.to_atom(x)\nend\n"
    opened = [
        {"jsonrpc": "2.0", "method": "textDocument/didOpen",
         "params": {"textDocument": {"uri": uri, "languageId": "elixir", "version": 1, "text": text}}},
        {"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
         "params": {"command": "exhort.debug.index", "arguments": []}},
    ]
    _session(tmp_path, _params({}))
    messages, log = _session(tmp_path, _params({}), *opened)
    assert EARLY in log
    # Answered at once (a request that waits for the check would be cancelled by shutdown).
    assert "modules" in next(m for m in messages if m.get("id") == 2).get("result", {}), messages
    assert next(m for m in messages if m.get("id") == 99)["result"] is None
