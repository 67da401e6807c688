"""A stand-in for the main Elixir language server (Expert, ElixirLS, Lexical) in the Emacs
test through rassumfrassum: a small stdio LSP server, standard library only.

It answers `initialize` after STANDIN_INITIALIZE_DELAY seconds (default 0), keeps each
open document's full text (full sync) and, for every version, publishes one
diagnostic (code STANDIN1, source `standin`, the initializationOptions it was given in its
message) on the first `defmodule` keyword; it answers
hover with a fixed text and codeAction with one action of its own, so the test can tell which
server rass routed each request to. Anything else gets null (requests) or is ignored.
"""

from __future__ import annotations

import json
import os
import sys
import time

HOVER = "stand-in hover"
ACTION = "Stand-in action"


def read_message(stream) -> dict | None:
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return json.loads(stream.read(length)) if length is not None else {}


def write_message(stream, message: dict) -> None:
    body = json.dumps(message).encode()
    stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    stream.flush()


def diagnostics(text: str, options: object) -> list[dict]:
    for number, line in enumerate(text.split("\n")):
        column = line.find("defmodule")
        if column >= 0:  # ASCII before it in the test file: the same in every encoding
            return [{
                "range": {"start": {"line": number, "character": column},
                          "end": {"line": number, "character": column + len("defmodule")}},
                "severity": 3,
                "code": "STANDIN1",
                "source": "standin",
                "message": f"stand-in: a module (initializationOptions {json.dumps(options)})",
            }]
    return []


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    texts: dict[str, str] = {}
    options: object = None

    def publish(uri: str, version: int) -> None:
        write_message(stdout, {"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
                               "params": {"uri": uri, "version": version, "diagnostics": diagnostics(texts[uri], options)}})

    while (message := read_message(stdin)) is not None:
        method, params = message.get("method"), message.get("params") or {}
        result = None
        if method == "initialize":
            options = params.get("initializationOptions")
            # A main server that is slow to start (Expert compiling, ElixirLS building a PLT):
            # rass must still take it into the session.
            time.sleep(float(os.environ.get("STANDIN_INITIALIZE_DELAY", "0")))
            result = {"capabilities": {"textDocumentSync": {"openClose": True, "change": 1},
                                       "hoverProvider": True, "codeActionProvider": True},
                      "serverInfo": {"name": "standin", "version": "1"}}
        elif method == "textDocument/didOpen":
            document = params["textDocument"]
            texts[document["uri"]] = document["text"]
            publish(document["uri"], document["version"])
        elif method == "textDocument/didChange":
            document = params["textDocument"]
            texts[document["uri"]] = params["contentChanges"][-1]["text"]
            publish(document["uri"], document["version"])
        elif method == "textDocument/didClose":
            texts.pop(params["textDocument"]["uri"], None)
        elif method == "textDocument/hover":
            result = {"contents": {"kind": "plaintext", "value": HOVER}}
        elif method == "textDocument/codeAction":
            result = [{"title": ACTION, "kind": "quickfix", "command": {"title": ACTION, "command": "standin.noop"}}]
        elif method == "exit":
            return 0
        if "id" in message and method is not None:
            write_message(stdout, {"jsonrpc": "2.0", "id": message["id"], "result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
