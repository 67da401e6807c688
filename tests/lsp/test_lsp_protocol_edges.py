"""The wire, byte by byte: header variants clients send, bodies that are no valid message,
and messages out of the order LSP prescribes. Every well-formed request gets an answer,
every malformed one the JSON-RPC error the specification names, and the stream stays in
step."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from raw_client import RawClient, frame

PARSE_ERROR, INVALID_REQUEST, SERVER_NOT_INITIALIZED = -32700, -32600, -32002


@pytest.fixture
def raw(tmp_path):
    client = RawClient(cwd=tmp_path)
    yield client
    client.close()


def hover_request(client: RawClient) -> tuple[int, bytes]:
    """A well-formed request (hover on a document that is not open: the answer is null)."""
    message_id, message = client.request_message(
        "textDocument/hover", {"textDocument": {"uri": "file:///nowhere/a.ex"}, "position": {"line": 0, "character": 0}}
    )
    return message_id, json.dumps(message).encode()


def error_of(message: dict) -> int:
    assert "error" in message, message
    return message["error"]["code"]


HEADERS = {
    "lower case": b"content-length: %d\r\n\r\n",
    "no space": b"Content-Length:%d\r\n\r\n",
    "LF only": b"Content-Length: %d\n\n",
    "spaces and a content type": b"CONTENT-LENGTH :  %d \r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
    "content type first, LF only": b"Content-Type: application/vscode-jsonrpc\nContent-length: %d\n\n",
}


def test_header_variants_are_read_in_step(raw: RawClient):
    raw.initialize()
    for name, header in HEADERS.items():
        message_id, body = hover_request(raw)
        raw.write(header % len(body) + body)
        answer = raw.response(message_id, timeout=5)
        assert answer.get("result", "missing") is None, (name, answer)


def test_noise_and_a_short_length_resynchronise_on_the_next_header(raw: RawClient):
    raw.initialize()
    # Noise lines before a header.
    message_id, body = hover_request(raw)
    raw.write(b"garbage\r\n\r\nmore garbage\n" + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert raw.response(message_id, timeout=5)["result"] is None
    # A length that cuts the body short: the cut body is a parse error, its rest is noise,
    # and the next message is read as usual.
    broken_id, broken = hover_request(raw)
    message_id, body = hover_request(raw)
    raw.write(b"Content-Length: 20\r\n\r\n" + broken + b"\r\n" + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert error_of(raw.wait_for(lambda m: m.get("id") is None and "error" in m, timeout=5)) == PARSE_ERROR
    assert raw.response(message_id, timeout=5)["result"] is None
    assert not any(m.get("id") == broken_id for _, m in raw.received)


def _nested(depth: int) -> bytes:
    return b'{"jsonrpc": "2.0", "id": "m99", "method": "textDocument/hover", "params": ' + b"[" * depth + b"]" * depth + b"}"


MALFORMED = {
    # name: (body, expected code, expected id)
    "invalid UTF-8": (b'{"jsonrpc": "2.0", "id": "m7", "method": "textDocument/hover", "params": "\xff\xfe"}', PARSE_ERROR, None),
    "invalid JSON": (b'{"jsonrpc": "2.0", "id": "m7", "method": ', PARSE_ERROR, None),
    "100,000 deep": (_nested(100_000), PARSE_ERROR, None),
    "jsonrpc 1.0": (b'{"jsonrpc": "1.0", "id": "m8", "method": "textDocument/hover", "params": {}}', INVALID_REQUEST, "m8"),
    "no jsonrpc": (b'{"id": "m9", "method": "textDocument/hover", "params": {}}', INVALID_REQUEST, "m9"),
    "object id": (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "textDocument/hover", "params": {}}', INVALID_REQUEST, None),
    "boolean id": (b'{"jsonrpc": "2.0", "id": true, "method": "textDocument/hover", "params": {}}', INVALID_REQUEST, None),
    "method not a string": (b'{"jsonrpc": "2.0", "id": "m10", "method": 5}', INVALID_REQUEST, "m10"),
    "a batch": (b'[{"jsonrpc": "2.0", "id": "m11", "method": "textDocument/hover"}]', INVALID_REQUEST, None),
    "a number": (b"42", INVALID_REQUEST, None),
    "wrong params": (b'{"jsonrpc": "2.0", "id": "m12", "method": "textDocument/hover", "params": {"position": 3}}', -32602, "m12"),
}


def test_malformed_bodies_get_the_error_the_specification_names(raw: RawClient):
    raw.initialize()
    for name, (body, code, expected_id) in MALFORMED.items():
        seen = len(raw.received)
        raw.write(frame(body))
        answer = raw.wait_for(lambda m: "error" in m, timeout=5, after=seen)
        assert (error_of(answer), answer["id"]) == (code, expected_id), name
        # and the stream goes on: a well-formed request right after is answered
        message_id, good = hover_request(raw)
        raw.write(frame(good))
        assert raw.response(message_id, timeout=5)["result"] is None, name


def test_lifecycle_initialize_first_once_and_nothing_after_shutdown(raw: RawClient, tmp_path):
    uri = (tmp_path / "lib" / "a.ex").as_uri()
    before = raw.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
    assert error_of(before) == SERVER_NOT_INITIALIZED
    # A notification before initialize is dropped: this document is never opened.
    raw.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "elixir", "version": 1, "text": "x = 1\n"}})
    assert "capabilities" in raw.initialize(tmp_path.as_uri())["result"]
    assert raw.request("workspace/executeCommand", {"command": "exhort.debug.document", "arguments": [uri]})["result"] == {}
    again = raw.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    assert error_of(again) == INVALID_REQUEST
    assert raw.request("shutdown")["result"] is None
    after = raw.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
    assert error_of(after) == INVALID_REQUEST
    assert error_of(raw.request("shutdown")) == INVALID_REQUEST
    started = time.monotonic()
    raw.notify("exit")
    assert raw.process.wait(timeout=5) == 0
    assert time.monotonic() - started < 1.0


def test_exit_without_shutdown_exits_with_1(raw: RawClient):
    raw.initialize()
    raw.notify("exit")
    assert raw.process.wait(timeout=5) == 1


def test_shutdown_while_a_request_waits_then_exit_gives_0(tmp_path):
    uri = (tmp_path / "lib" / "a.ex").as_uri()
    text = "defmodule A do\n" + "  def f(x), do: String.to_atom(x)\n" * 500 + "end\n"
    messages = [  # one write: the command still waits for the document when shutdown comes
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen",
         "params": {"textDocument": {"uri": uri, "languageId": "elixir", "version": 1, "text": text}}},
        {"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
         "params": {"command": "exhort.debug.document", "arguments": [uri]}},
        {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    done = subprocess.run([sys.executable, "-m", "exhort.lsp", "--log-level", "warning"], cwd=tmp_path,
                          input=b"".join(frame(message) for message in messages), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert b"changed size during iteration" not in done.stderr
