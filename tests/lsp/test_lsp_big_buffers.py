"""Big buffers never hold the server: a buffer over the CLI's size limit is kept but not
analysed (and the user is told why); a multi-megabyte buffer is parsed and checked off the
event loop, so requests on other documents are answered within 100 ms meanwhile; a newer
version cancels the check of an older one; exit is immediate."""

from __future__ import annotations

import statistics
import time

import pytest

from exhort.files import MAX_FILE_BYTES
from raw_client import RawClient

MODULE = '''defmodule Big.Module{n} do
  @moduledoc "émails 📧 for 日本"
  use GenServer

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)
  def init(opts), do: {{:ok, opts}}

  def filter(params) do
    status = String.to_atom(params["status"])
    IO.inspect(status, label: "status")
  end

  def any_expired?(expired), do: length(expired) > 0
end

'''
SMALL = 'defmodule Small do\n  def f(params), do: String.to_atom(params["x"])\nend\n'


def big_text(size: int) -> str:
    parts, total, number = [], 0, 0
    while total < size:
        part = MODULE.format(n=number)
        parts.append(part)
        total += len(part.encode())
        number += 1
    return "".join(parts)


@pytest.fixture
def raw(tmp_path):
    client = RawClient(cwd=tmp_path)
    client.initialize(tmp_path.as_uri())
    yield client
    client.close()


def open_text(client: RawClient, uri: str, text: str, version: int = 1) -> None:
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "elixir", "version": version, "text": text}})


def change(client: RawClient, uri: str, version: int, line: int, text: str) -> None:
    position = {"line": line, "character": 0}
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": {"start": position, "end": position}, "text": text}]},
    )


def debug_document(client: RawClient, uri: str) -> dict:
    return client.request("workspace/executeCommand", {"command": "exhort.debug.document", "arguments": [uri]}, timeout=60)["result"]


def open_small(client: RawClient, tmp_path) -> str:
    uri = (tmp_path / "lib" / "small.ex").as_uri()
    open_text(client, uri, SMALL)
    client.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri)
    return uri


def hover_latency(client: RawClient, uri: str) -> float:
    started = time.monotonic()
    answer = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 30}}, timeout=30)
    assert "SEC001" in answer["result"]["contents"]["value"]
    return time.monotonic() - started


def test_a_buffer_over_the_size_limit_is_kept_but_not_analysed(raw: RawClient, tmp_path):
    uri = (tmp_path / "lib" / "huge.ex").as_uri()
    text = big_text(MAX_FILE_BYTES + 64 * 1024)
    open_text(raw, uri, text)
    shown = raw.wait_for(lambda m: m.get("method") == "window/showMessage")
    assert "huge.ex is not analysed" in shown["params"]["message"] and "limit" in shown["params"]["message"]
    published = raw.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri)
    assert published["params"] == {"uri": uri, "version": 1, "diagnostics": []}
    change(raw, uri, 2, 0, "# still the client's text\n")
    state = debug_document(raw, uri)
    assert state["analysed"] is False and state["tree"] is None
    assert state["text"] == "# still the client's text\n" + text
    # Cut below the limit: analysed from then on.
    lines = text.count("\n")
    raw.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 3},
            "contentChanges": [{"range": {"start": {"line": 40, "character": 0}, "end": {"line": lines + 1, "character": 0}}, "text": ""}],
        },
    )
    checked = raw.wait_for(
        lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["version"] == 3, timeout=30
    )
    assert {d["code"] for d in checked["params"]["diagnostics"]} >= {"SEC001", "PRF001", "STY001"}
    assert len([m for _, m in raw.received if m.get("method") == "window/showMessage"]) == 1


def test_requests_on_other_documents_are_answered_while_a_big_buffer_is_checked(raw: RawClient, tmp_path):
    small = open_small(raw, tmp_path)
    hover_latency(raw, small)  # warm: the hover providers are loaded
    big = (tmp_path / "lib" / "big.ex").as_uri()
    open_text(raw, big, big_text(3 * 1024 * 1024))
    # Reading and decoding the 3 MB didOpen itself takes the loop about 0.1 s; from its end on:
    started = time.monotonic()
    raw.request("workspace/executeCommand", {"command": "exhort.debug.index"})
    opened = time.monotonic() - started
    latencies = []
    while not raw.publishes(big) and len(latencies) < 60:
        latencies.append(hover_latency(raw, small))
        time.sleep(0.05)
    print(f"didOpen of 3 MB read in {opened * 1000:.0f} ms; then {len(latencies)} hovers on another document "
          f"while it was parsed and checked: median {statistics.median(latencies) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    assert len(latencies) >= 10  # the big buffer's parse and check went on meanwhile
    # Before, each waited for the whole parse and check (tens of seconds). Within 100 ms each
    # on a quiet machine; on a loaded one (2 cores, load 12) the scheduler alone now and then
    # keeps the process waiting for longer.
    assert sorted(latencies)[int(len(latencies) * 0.9)] < 0.1
    assert max(latencies) < 1.0


def test_a_newer_version_cancels_the_check_of_an_older_one(raw: RawClient, tmp_path):
    big = (tmp_path / "lib" / "big.ex").as_uri()
    open_text(raw, big, big_text(2 * 1024 * 1024))
    # Wait until the parse is done and the first check runs, then edit: that check is dropped.
    deadline = time.monotonic() + 30
    while debug_document(raw, big)["checks"]["started"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    change(raw, big, 2, 0, "# edited\n")
    published = raw.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == big, timeout=120)
    assert published["params"]["version"] == 2  # version 1 was never published
    assert debug_document(raw, big)["checks"]["cancelled"] >= 1


def test_exit_is_immediate_while_a_big_buffer_is_parsed_and_checked(raw: RawClient, tmp_path):
    open_small(raw, tmp_path)
    open_text(raw, (tmp_path / "lib" / "big.ex").as_uri(), big_text(2 * 1024 * 1024))
    time.sleep(0.5)
    assert raw.request("shutdown", timeout=1)["result"] is None
    started = time.monotonic()
    raw.notify("exit")
    assert raw.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 1.0
