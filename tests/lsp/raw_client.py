"""A minimal LSP client over the server's stdin/stdout pipes, for tests that need exact
control of the bytes on the wire (framing, malformed bodies, several messages in one write)."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from typing import Any

from lsp_helpers import SERVER_COMMAND


def frame(message: dict | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def frames(output: bytes):
    """The messages of a whole output of the server (read after it ended)."""
    while output:
        header, _, output = output.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n") if line.lower().startswith(b"content-length:"))
        yield json.loads(output[:length])
        output = output[length:]


class RawClient:
    def __init__(self, command: list[str] | None = None, cwd=None, env: dict | None = None) -> None:
        self.process = subprocess.Popen(
            command or SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env
        )
        self.messages: queue.Queue[dict] = queue.Queue()
        self.received: list[tuple[float, dict]] = []  # (time.monotonic(), message), in order
        self.stderr: list[bytes] = []
        self._next_id = 0
        self._threads = [threading.Thread(target=self._read, daemon=True), threading.Thread(target=self._drain_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        while True:
            length = None
            while True:
                line = stdout.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            message = json.loads(stdout.read(length))
            self.received.append((time.monotonic(), message))
            self.messages.put(message)

    def _drain_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line)

    # -- sending ------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def request_message(self, method: str, params: Any = None) -> tuple[int, dict]:
        message_id = self.new_id()
        message = {"jsonrpc": "2.0", "id": message_id, "method": method}
        if params is not None:
            message["params"] = params
        return message_id, message

    def send_request(self, method: str, params: Any = None) -> int:
        message_id, message = self.request_message(method, params)
        self.write(frame(message))
        return message_id

    def notify(self, method: str, params: Any = None) -> None:
        self.write(frame(self.notification(method, params)))

    @staticmethod
    def notification(method: str, params: Any = None) -> dict:
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        return message

    # -- receiving ----------------------------------------------------------------------------

    def wait_for(self, predicate, timeout: float = 10.0, after: int = 0) -> dict:
        """The first message that satisfies `predicate`, among those received after the
        first `after` (already received or arriving)."""
        deadline = time.monotonic() + timeout
        index = after
        while True:
            while index < len(self.received):
                message = self.received[index][1]
                index += 1
                if predicate(message):
                    return message
            if time.monotonic() > deadline:
                raise AssertionError(f"no such message within {timeout} s; received {[m for _, m in self.received][-5:]}")
            time.sleep(0.005)

    def response(self, message_id, timeout: float = 10.0) -> dict:
        return self.wait_for(lambda m: m.get("id") == message_id and "method" not in m, timeout)

    def request(self, method: str, params: Any = None, timeout: float = 10.0) -> dict:
        return self.response(self.send_request(method, params), timeout)

    def publishes(self, uri: str) -> list[dict]:
        return [
            m["params"] for _, m in self.received
            if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
        ]

    def initialize(self, root_uri: str | None = None, capabilities: dict | None = None) -> dict:
        response = self.request("initialize", {"processId": None, "rootUri": root_uri, "capabilities": capabilities or {}})
        self.notify("initialized", {})
        return response

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for thread in self._threads:  # they end at the end of the streams: let them, then close
            thread.join(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass
