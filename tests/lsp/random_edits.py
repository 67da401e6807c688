"""A seeded random-edit run of the real server over stdio, checked against `exhort check`.

The client (RawClient) edits one file of a small Mix project with random incremental
changes: several per didChange, multi-byte text, CRLF line ends, edits addressed in the
position encoding negotiated for the seed, and now and then a hover or code action in the
same write as the change. At each checkpoint it waits for quiet and then requires that:

- the server's text is the client's;
- the last diagnostics published for the document belong to its latest version and equal
  the findings `exhort check --report-unused-suppressions` reports for the same text in a
  copy of the project;
- every request was answered (a ContentModified error counts: the text changed meanwhile).

Used by tests/lsp/test_lsp_random_edits.py (short) and bench/lsp_random_edits.py (long).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lsp_helpers import apply_edit, index_to_column, write_project
from raw_client import RawClient, frame

ENCODINGS = ("utf-16", "utf-8", "utf-32")
EDITED = "lib/sample/edited.ex"
APPLICATION = """
defmodule Sample.Application do
  use Application

  def start(_type, _args) do
    children = [Sample.Cache]
    Supervisor.start_link(children, strategy: :one_for_one)
  end
end
"""
START = (
    "defmodule Sample.Cache do\r\n"
    "  use GenServer\r\n"
    "  def init(state), do: {:ok, state}\r\n"
    "end\r\n"
    "\n"
    "defmodule Sample.Edited do\n"
    '  @moduledoc "émails 📧 日本"\n'
    "  use GenServer\n"
    "\n"
    "  def filter(params) do\n"
    '    status = String.to_atom(params["status"])\n'
    '    IO.inspect(status, label: "é")\n'
    "  end\n"
    "\n"
    "  # exhort:disable-next-line OTP002\n"
    "  def any_expired?(expired), do: length(expired) > 0\n"
    "end\n"
)
PIECES = [
    "", "", "x", " ", "\n", "\r\n", "é", "日本", "😀", "🎉 ", "(", ")", "[", "]", "do\n", "end\n", ":ok",
    "String.to_atom(name)", "IO.inspect(value)", "IO.puts(\"é\")", "length(items) == 0", "length(xs) > 0",
    "# exhort:disable-next-line SEC001\n", "# exhort:disable-next-line STY001\r\n",
    "  def extra(a), do: a\n", "  use GenServer\n", "GenServer.call(self(), :ping)",
    "defmodule Sample.Extra do\n  use Agent\nend\n", "Supervisor.start_link([Sample.Extra], strategy: :one_for_one)",
    "Task.async(fn -> 1 end)", "spawn(fn -> :ok end)", "%{a: 1, b: \"😀\"}", "{:noreply, state}",
]
# Whole lines that keep a module valid where they land between its members: random
# character edits soon leave nothing but syntax errors (where no rule speaks), these keep
# the rules busy.
BLOCKS = [
    '  def to_status{n}(params), do: String.to_atom(params["s{n}"])\n',
    "  def empty{n}?(items), do: length(items) == 0\n",
    "  def show{n}(x) do\n    IO.inspect(x, label: \"é{n}\")\n  end\n",
    "  # exhort:disable-next-line SEC001\n  def trusted{n}(p), do: String.to_atom(p)\n",
    "  # exhort:disable-next-line PRF001\r\n  def plain{n}(x), do: x\r\n",
    "  def later{n}, do: Task.async(fn -> {n} end)\n",
    "  def ping{n}, do: GenServer.call(self(), :ping)\n",
    '  @doc "日本 😀 {n}"\n  def doc{n}(a), do: a\n',
]
MODULES = [
    "defmodule Sample.Worker{n} do\n  use GenServer\n  def init(s), do: {{:ok, s}}\nend\n",
    "defmodule Sample.Holder{n} do\r\n  use Agent\r\nend\r\n",
]
SEVERITIES = {"error": 1, "warning": 2, "information": 3, "hint": 4}


@dataclass
class Outcome:
    seed: int
    encoding: str
    edits: int = 0  # content changes
    notifications: int = 0
    requests: int = 0
    content_modified: int = 0
    checkpoints: int = 0
    findings_compared: int = 0
    failures: list[str] = field(default_factory=list)


def _lines(text: str) -> list[str]:
    """Lines without their breaks (\\r\\n, \\r or \\n), as LSP counts them."""
    out, start, index = [], 0, 0
    while index < len(text):
        char = text[index]
        if char in "\r\n":
            out.append(text[start:index])
            index += 2 if text.startswith("\r\n", index) else 1
            start = index
        else:
            index += 1
    out.append(text[start:])
    return out


def _random_change(rng: random.Random, text: str, encoding: str) -> dict:
    lines = _lines(text)
    line0 = rng.randrange(len(lines))
    line1 = min(len(lines) - 1, line0 + rng.choice([0, 0, 0, 1, 2, 5]))
    column0 = index_to_column(lines[line0], rng.randrange(len(lines[line0]) + 1), encoding)
    column1 = index_to_column(lines[line1], rng.randrange(len(lines[line1]) + 1), encoding)
    if (line1, column1) < (line0, column0):
        line0, column0, line1, column1 = line1, column1, line0, column0
    if rng.random() < 0.5:  # most edits are typing: an insertion
        line1, column1 = line0, column0
    new = "".join(rng.choice(PIECES) for _ in range(rng.choice([1, 1, 1, 2, 3])))
    return {"range": {"start": {"line": line0, "character": column0}, "end": {"line": line1, "character": column1}}, "text": new}


def _line_change(rng: random.Random, text: str, encoding: str) -> dict:
    """A whole line inserted (a block of valid code) or deleted."""
    lines = _lines(text)
    line = rng.randrange(len(lines))
    start = {"line": line, "character": 0}
    if rng.random() < 0.6:
        pieces = BLOCKS if rng.random() < 0.8 else MODULES
        return {"range": {"start": start, "end": start}, "text": rng.choice(pieces).format(n=rng.randrange(100))}
    end = {"line": line + 1, "character": 0} if line + 1 < len(lines) else {"line": line, "character": index_to_column(lines[line], len(lines[line]), encoding)}
    return {"range": {"start": start, "end": end}, "text": ""}


def _fresh_text(rng: random.Random) -> str:
    """A valid file to start again from: random edits heal nothing."""
    members = "".join(rng.choice(BLOCKS).format(n=number) for number in range(rng.randrange(3, 12)))
    extra = "".join(rng.choice(MODULES).format(n=number) for number in range(rng.randrange(0, 3)))
    return START.replace("\nend\n", "\n" + members + "end\n", 1) + extra


def next_burst(rng: random.Random, text: str, encoding: str):
    """The next didChange: (the text after it, its changes, a request to send with it or
    None, a pause after it in seconds). Depends only on `rng` and `text`, so that a run's
    texts can be replayed without a server."""
    changes = []
    if rng.random() < 0.03:  # the whole text replaced, as by a formatter or a checkout
        lines = _lines(text)
        end = {"line": len(lines) - 1, "character": index_to_column(lines[-1], len(lines[-1]), encoding)}
        changes.append({"range": {"start": {"line": 0, "character": 0}, "end": end}, "text": _fresh_text(rng)})
        text = changes[-1]["text"]
    for _ in range(rng.choice([1, 1, 2, 3])):
        change = _random_change(rng, text, encoding) if rng.random() < 0.5 else _line_change(rng, text, encoding)
        r = change["range"]
        text = apply_edit(text, r["start"]["line"], r["start"]["character"], r["end"]["line"], r["end"]["character"], change["text"], encoding)
        changes.append(change)
    request = None
    if rng.random() < 0.3:
        lines = _lines(text)
        line = rng.randrange(len(lines))
        position = {"line": line, "character": index_to_column(lines[line], rng.randrange(len(lines[line]) + 1), encoding)}
        if rng.random() < 0.5:
            request = ("textDocument/hover", {"position": position})
        else:
            request = ("textDocument/codeAction", {"range": {"start": position, "end": position}, "context": {"diagnostics": []}})
    pause = rng.choice([0.01, 0.05, 0.3]) if rng.random() < 0.1 else 0.0  # pauses of several lengths
    return text, changes, request, pause


def replay(seed: int, notifications: int) -> str:
    """The text a run with `seed` has after `notifications` didChange notifications."""
    rng, text = random.Random(seed), START
    for _ in range(notifications):
        text = next_burst(rng, text, ENCODINGS[seed % len(ENCODINGS)])[0]
    return text


def _cli_findings(project: Path, text: str, work: Path) -> list[tuple]:
    """`exhort check` of the project with the edited file holding `text`."""
    copy = work / "cli"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(project, copy)
    (copy / EDITED).write_bytes(text.encode("utf-8"))
    result = subprocess.run(
        [sys.executable, "-m", "exhort", "check", "--format", "json", "--report-unused-suppressions", "--jobs", "1",
         # the editor shows hints, and never syntax errors (half-typed code shows nothing)
         "--min-severity", "hint", "--ignore", "EXH002", "--no-cache", "."],
        cwd=copy, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr
    return sorted(
        (f["code"], f["line"] - 1, f["column"] - 1, f["end_line"] - 1, f["end_column"] - 1, SEVERITIES[f["severity"]], f["message"])
        for f in json.loads(result.stdout)
        if f["path"] == EDITED
    )


def _published_findings(diagnostics: list[dict], text: str, encoding: str) -> list[tuple]:
    """The published diagnostics with positions in code points, as the CLI counts them."""
    lines = _lines(text)

    def code_points(position: dict) -> tuple[int, int]:
        line = lines[position["line"]]
        count = 0
        for index, char in enumerate(line):
            if count >= position["character"]:
                return position["line"], index
            count += {"utf-8": len(char.encode()), "utf-16": 2 if ord(char) > 0xFFFF else 1, "utf-32": 1}[encoding]
        return position["line"], len(line)

    return sorted(
        (d["code"], *code_points(d["range"]["start"]), *code_points(d["range"]["end"]), d["severity"], d["message"])
        for d in diagnostics
    )


def _wait_for_quiet(client: RawClient, uri: str, version: int, quiet: float, timeout: float) -> dict | None:
    """The last publish for `uri` once it is for `version` and nothing came for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        published = client.publishes(uri)
        last_at = client.received[-1][0] if client.received else 0
        if published and published[-1]["version"] == version and time.monotonic() - last_at > quiet:
            return published[-1]
        time.sleep(0.05)
    return None


def run(seed: int, edits: int, checkpoint_every: int, work: Path, quiet: float = 1.5, log=None) -> Outcome:
    rng = random.Random(seed)
    encoding = ENCODINGS[seed % len(ENCODINGS)]
    outcome = Outcome(seed, encoding)
    (work / "project").mkdir(parents=True, exist_ok=True)
    project = write_project(work / "project", {"lib/sample/application.ex": APPLICATION})
    (project / EDITED).write_bytes(START.encode("utf-8"))
    uri = (project / EDITED).as_uri()
    client = RawClient(cwd=project)
    try:
        client.initialize(project.as_uri(), {"general": {"positionEncodings": [encoding]}})
        deadline = time.monotonic() + 60
        while not client.request("workspace/executeCommand", {"command": "exhort.debug.index"})["result"]["precheck_done"]:
            assert time.monotonic() < deadline, "the workspace was never indexed"
            time.sleep(0.1)
        text, version = START, 1
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "elixir", "version": 1, "text": text}})
        pending: list[int] = []
        while True:
            at_checkpoint = outcome.edits >= edits or (outcome.notifications and outcome.notifications % checkpoint_every == 0)
            if at_checkpoint:
                _checkpoint(client, project, uri, text, version, encoding, work, quiet, pending, outcome)
                if log is not None:
                    log(outcome)
                if outcome.edits >= edits or outcome.failures:
                    break
            text, changes, request, pause = next_burst(rng, text, encoding)
            version += 1
            burst = frame(client.notification(
                "textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}
            ))
            if request is not None:  # read in the same go as the change
                method, params = request
                message_id, message = client.request_message(method, {"textDocument": {"uri": uri}, **params})
                burst += frame(message)
                pending.append(message_id)
                outcome.requests += 1
            client.write(burst)
            outcome.edits += len(changes)
            outcome.notifications += 1
            if pause:
                time.sleep(pause)
        return outcome
    finally:
        client.close()


def _checkpoint(client, project, uri, text, version, encoding, work, quiet, pending, outcome) -> None:
    outcome.checkpoints += 1
    where = f"seed {outcome.seed}, checkpoint {outcome.checkpoints}, version {version}"
    published = _wait_for_quiet(client, uri, version, quiet, timeout=120)
    if published is None:
        outcome.failures.append(f"{where}: version {version} was never published")
        return
    state = client.request("workspace/executeCommand", {"command": "exhort.debug.document", "arguments": [uri]}, timeout=60)["result"]
    if state.get("text") != text:
        outcome.failures.append(f"{where}: the server's text differs from the client's")
    for message_id in pending:
        answer = client.response(message_id, timeout=30)
        if "error" in answer:
            if answer["error"]["code"] == -32801:
                outcome.content_modified += 1
            else:
                outcome.failures.append(f"{where}: request {message_id} failed: {answer['error']}")
    pending.clear()
    expected = _cli_findings(project, text, work)
    actual = _published_findings(published["diagnostics"], text, encoding)
    outcome.findings_compared += len(expected)
    if actual != expected:
        missing = [f for f in expected if f not in actual]
        extra = [f for f in actual if f not in expected]
        (work / f"failure-{outcome.seed}-{outcome.checkpoints}.ex").write_bytes(text.encode("utf-8"))
        outcome.failures.append(f"{where}: published != exhort check; missing {missing}, extra {extra}")
