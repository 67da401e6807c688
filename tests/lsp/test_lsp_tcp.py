"""`exhort serve --tcp HOST:PORT`: the same protocol over a socket."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _send(stream: socket.socket, message: dict) -> None:
    body = json.dumps(message).encode()
    stream.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _receive(reader) -> dict:
    length = 0
    while True:
        line = reader.readline()
        assert line, "the server closed the connection"
        if line in (b"\r\n", b"\n"):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(reader.read(length))


def test_tcp_initialize_diagnostics_and_shutdown(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "exhort", "serve", "--tcp", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                assert time.monotonic() < deadline, server.stderr.read1().decode() if server.poll() else "no server"
                time.sleep(0.1)
        reader = connection.makefile("rb")
        _send(connection, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"processId": None, "rootUri": None, "capabilities": {}}})
        reply = _receive(reader)
        assert reply["id"] == 1 and reply["result"]["capabilities"]["hoverProvider"]
        _send(connection, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        uri = (tmp_path / "lib" / "a.ex").as_uri()
        _send(connection, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "elixir", "version": 1,
            "text": "defmodule A do\n  def f(x), do: length(x) == 0\nend\n"}}})
        while True:
            message = _receive(reader)
            if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                break
        assert [d["code"] for d in message["params"]["diagnostics"]] == ["PRF001"]
        _send(connection, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        while _receive(reader).get("id") != 2:
            pass
        _send(connection, {"jsonrpc": "2.0", "method": "exit"})
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
