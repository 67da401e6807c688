"""Latency of the real language server over stdio (prints figures; not a test).

    python bench/lsp_latency.py [--edits 200] [--lines 5000 50000] [--starts 10]
    python bench/lsp_latency.py --file lib/real.ex [--file ...] [--places 20] [--lines]
    python bench/lsp_latency.py --file lib/real.ex --opens 5 --lines --starts 0

Measures, with a minimal JSON-RPC client on pipes (so the client's own parsing stays small):
process start -> initialize answered, and -> a first request answered; didOpen -> first publishDiagnostics,
for the file on disk (which the server checked in the background after indexing) and for a
buffer with the same text that is on no disk (a cold check); and didChange ->
publishDiagnostics of that version, for one-character edits alternating insert/delete in the
middle of the file. Positions are utf-16 (the client sends no encoding).

With --file, the text is a real file (copied alone into a scratch project) and the edits are
letters typed at `--places` lines spread over the file, as bench/keystroke.py types them
(each keystroke a text the server has not seen); the whole-document rules' publish after
the typing pause is timed too (less the server's debounce). --lines with no value skips
the synthetic files.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from keystroke import TYPED, places  # bench/ is on sys.path when this script runs

MODULE = '''defmodule Bench.Module{n} do
  @moduledoc """
  Handles émails 📧 for 日本 customers.
  """
  use GenServer
  require Logger

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  @impl true
  def init(opts) do
    state = %{{items: [], opts: opts}}
    {{:ok, state}}
  end

  @impl true
  def handle_call({{:add, item}}, _from, state) do
    {{:reply, :ok, %{{state | items: [item | state.items]}}}}
  end

  def handle_call(:count, _from, state), do: {{:reply, Enum.count(state.items), state}}

  def summary(state) do
    state.items
    |> Enum.map(&to_string/1)
    |> Enum.filter(&(&1 != ""))
    |> Enum.join(", ")
  end

  def empty?(items), do: length(items) == 0

  defp normalise(%{{"name" => name}} = params) when is_binary(name) do
    params
    |> Map.put("name", String.trim(name))
    |> Map.update("tags", [], &Enum.uniq/1)
  end

  defp normalise(params), do: params

  def total(rows) do
    Enum.reduce(rows, 0, fn row, acc ->
      acc + row.amount
    end)
  end
end

'''


def make_source(lines: int) -> str:
    parts: list[str] = []
    count = 0
    number = 0
    while count < lines:
        block = MODULE.format(n=number)
        parts.append(block)
        count += block.count("\n")
        number += 1
    return "".join(parts)


class Client:
    def __init__(self, command: list[str], cwd: str, env: dict | None = None) -> None:
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd, env=env
        )
        self.messages: "queue.Queue[tuple[float, dict]]" = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = stream.read(length)
            # Stamped on arrival: the client's own JSON parsing is not the server's latency.
            arrived = time.perf_counter()
            self.messages.put((arrived, json.loads(body)))

    def send(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.process.stdin.flush()

    def request(self, method: str, params) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)[1]

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait(self, predicate, timeout: float = 60.0) -> tuple[float, dict]:
        deadline = time.monotonic() + timeout
        while True:
            when, message = self.messages.get(timeout=max(deadline - time.monotonic(), 0.001))
            if "method" in message and "id" in message:  # a server->client request: answer it
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            if predicate(message):
                return when, message

    def cpu_seconds(self, children: bool = False) -> float:
        """The server process's CPU time so far (user + system), with its living child
        processes' if asked, from /proc; 0 elsewhere."""
        return _cpu_seconds(self.process.pid, children)

    def close(self) -> None:
        self.request("shutdown", None)
        self.notify("exit", None)
        self.process.wait(timeout=10)


def _cpu_seconds(pid: int, children: bool) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    if children:
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                total += sum(_cpu_seconds(int(child), True) for child in task.read_text().split())
            except OSError:
                pass
    return total


def published(uri: str, version: int):
    return lambda m: (
        m.get("method") == "textDocument/publishDiagnostics"
        and m["params"]["uri"] == uri
        and m["params"].get("version") == version
    )


def wait_complete(client, uri: str, version: int) -> float:
    """When the server finished the whole-document check of `version`: a second publish of it
    when that check changed the diagnostics, else (a version is published once when nothing
    changed) the first poll of exhort.debug.checked that says so."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        client.next_id += 1
        asked = client.next_id
        client.send({"jsonrpc": "2.0", "id": asked, "method": "workspace/executeCommand",
                     "params": {"command": "exhort.debug.checked", "arguments": [uri]}})
        when, message = client.wait(lambda m: published(uri, version)(m) or (m.get("id") == asked and "method" not in m))
        if "method" in message:
            return when
        state = message.get("result") or {}
        if state.get("complete") and state.get("checked_version") == version:
            return when
        time.sleep(0.005)
    raise SystemExit(f"the whole-document check of version {version} did not finish within 60 s")


FULL_CHECK_DEBOUNCE_MS = 250  # exhort.lsp.server.FULL_CHECK_DEBOUNCE_SECONDS (not imported: keep this client light)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def middle_edits(source: str, edits: int):
    """One character inserted and deleted in turn at the start of the middle line."""
    middle = source.count("\n") // 2
    for number in range(edits):
        if number % 2 == 0:
            yield {"range": {"start": {"line": middle, "character": 0}, "end": {"line": middle, "character": 0}}, "text": "x"}
        else:
            yield {"range": {"start": {"line": middle, "character": 0}, "end": {"line": middle, "character": 1}}, "text": ""}


def spread_edits(source: str, edits: int, count: int):
    """Letters typed in front of the first word of `count` lines spread over the file."""
    data = source.encode()
    spots = places(data, count)
    per_place = max(1, edits // len(spots))
    for place, spot in enumerate(spots):
        line = data.count(b"\n", 0, spot)
        column = len(data[data.rfind(b"\n", 0, spot) + 1 : spot].decode().encode("utf-16-le")) // 2
        for typed in range(per_place):
            if place * per_place + typed >= edits:
                return
            position = {"line": line, "character": column + typed}
            yield {"range": {"start": position, "end": position}, "text": TYPED[typed % len(TYPED)].decode()}


def run(label: str, source: str, edits, command: list[str], name: str = "big.ex") -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "mix.exs").write_text("defmodule Bench.MixProject do\n  use Mix.Project\nend\n")
        (root / "lib").mkdir()
        path = root / "lib" / name
        path.write_text(source)
        uri = path.as_uri()

        client, startup = start_server(command, root)
        # Let the background warm-up, indexing and checking finish: measure editing alone.
        while not client.request("workspace/executeCommand", {"command": "exhort.debug.index"})["result"]["precheck_done"]:
            time.sleep(0.05)
        time.sleep(0.2)

        opened = time.perf_counter()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "elixir", "version": 1, "text": source}})
        when, message = client.wait(published(uri, 1))  # complete: with the whole-document rules
        open_ms = (when - opened) * 1000
        diagnostics = len(message["params"]["diagnostics"])

        timings = []
        version = 1
        cpu_before = client.cpu_seconds()
        for change in edits:
            version += 1
            sent = time.perf_counter()
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})
            when, _ = client.wait(published(uri, version))
            timings.append((when - sent) * 1000)
        cpu_per_edit = (client.cpu_seconds() - cpu_before) * 1000 / max(len(timings), 1)
        # After the last keystroke, the whole-document rules run once typing pauses.
        when = wait_complete(client, uri, version)
        pause_ms = (when - sent) * 1000 - FULL_CHECK_DEBOUNCE_MS

        # Last, as it adds a second copy of every module to the index.
        cold_uri = (root / "lib" / "unsaved.ex").as_uri()  # on no disk: nothing checked in advance
        opened = time.perf_counter()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": cold_uri, "languageId": "elixir", "version": 1, "text": source}})
        when, _ = client.wait(published(cold_uri, 1))
        cold_ms = (when - opened) * 1000
        client.close()

    print(f"{label}: {source.count(chr(10))} lines, {diagnostics} diagnostics per publish")
    print(f"  process start -> initialize answered: {startup:7.1f} ms")
    print(f"  didOpen -> diagnostics:       {open_ms:7.1f} ms (all rules, in one publish)")
    print(f"  didOpen, a buffer on no disk: {cold_ms:7.1f} ms (all rules, nothing checked in advance)")
    print(
        f"  didChange -> diagnostics ({len(timings)} edits): median {statistics.median(timings):.2f} ms, "
        f"p95 {percentile(timings, 0.95):.2f} ms, max {max(timings):.2f} ms; server CPU {cpu_per_edit:.1f} ms per edit"
    )
    print(f"  typing pause -> whole-document rules: {pause_ms:.1f} ms (after the {FULL_CHECK_DEBOUNCE_MS} ms debounce)")


def measure_opens(label: str, source: str, command: list[str], opens: int, name: str) -> None:
    """didOpen of `source` as a buffer on no disk (nothing checked in advance) -> its first
    publishDiagnostics, `opens` times (each a new URI, closed after), in a scratch project
    holding the file, once the server's background work is done."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "mix.exs").write_text("defmodule Bench.MixProject do\n  use Mix.Project\nend\n")
        (root / "lib").mkdir()
        (root / "lib" / name).write_text(source)
        client, _startup = start_server(command, root)
        while not client.request("workspace/executeCommand", {"command": "exhort.debug.index"})["result"]["precheck_done"]:
            time.sleep(0.05)
        timings = []
        for number in range(opens):
            uri = (root / "lib" / f"unsaved_{number}.ex").as_uri()
            time.sleep(0.5)
            opened = time.perf_counter()
            client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "elixir", "version": 1, "text": source}})
            when, _ = client.wait(published(uri, 1))
            timings.append((when - opened) * 1000)
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        client.close()
    print(f"{label}: {source.count(chr(10))} lines, load average {os.getloadavg()[0]:.1f}")
    print(f"  didOpen of a buffer on no disk -> first diagnostics ({opens} opens): median {statistics.median(timings):.1f} ms, "
          f"min {min(timings):.1f} ms, max {max(timings):.1f} ms")


def start_server(command: list[str], root: Path) -> tuple[Client, float]:
    """A server initialized on the folder `root`, and the ms from process start to
    initialize answered."""
    started = time.perf_counter()
    client = Client(command, str(root))
    client.request(
        "initialize",
        {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {},
         "workspaceFolders": [{"uri": root.as_uri(), "name": "bench"}]},
    )
    answered = (time.perf_counter() - started) * 1000
    client.notify("initialized", {})
    return client, answered


def measure_startup(command: list[str], starts: int) -> None:
    """Process start -> initialize answered, and -> a first request answered (the server
    imported and serving), `starts` times in an empty folder (one start is noisy). The first
    start of a client with given capabilities is slower (the server learns them, see
    exhort.lsp.early): this starts once before the timed starts."""
    timings, ready = [], []
    with tempfile.TemporaryDirectory() as folder:
        start_server(command, Path(folder))[0].close()
        for _ in range(starts):
            started = time.perf_counter()
            client, startup = start_server(command, Path(folder))
            # A hover on a document that is not open: answered (null) as soon as the server runs.
            client.request("textDocument/hover", {"textDocument": {"uri": (Path(folder) / "a.ex").as_uri()},
                                                  "position": {"line": 0, "character": 0}})
            ready.append((time.perf_counter() - started) * 1000)
            timings.append(startup)
            client.close()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"process start -> initialize answered ({starts} starts): median {statistics.median(timings):.1f} ms, "
          f"min {min(timings):.1f} ms, max {max(timings):.1f} ms")
    print(f"process start -> first request answered: median {statistics.median(ready):.1f} ms, "
          f"min {min(ready):.1f} ms, max {max(ready):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--lines", type=int, nargs="*", default=[5000, 50000])
    parser.add_argument("--starts", type=int, default=10, help="server starts to time (0: none)")
    parser.add_argument("--file", type=Path, action="append", default=[], help="a real file to edit (repeatable)")
    parser.add_argument("--places", type=int, default=20, help="with --file: lines typed at, spread over the file")
    parser.add_argument("--opens", type=int, default=0,
                        help="with --file: only time opening its text as a buffer on no disk, this many times")
    parser.add_argument("--server", nargs="+", default=[sys.executable, "-m", "exhort.lsp", "--log-level", "warning"])
    arguments = parser.parse_args()
    if arguments.starts:
        measure_startup(arguments.server, arguments.starts)
    for lines in arguments.lines:
        source = make_source(lines)
        run(f"synthetic, {lines} lines", source, middle_edits(source, arguments.edits), arguments.server)
    for path in arguments.file:
        source = path.read_text()
        if arguments.opens:
            measure_opens(str(path), source, arguments.server, arguments.opens, path.name)
            continue
        edits = spread_edits(source, arguments.edits, arguments.places)
        run(str(path), source, edits, arguments.server, name=path.name)


if __name__ == "__main__":
    main()
