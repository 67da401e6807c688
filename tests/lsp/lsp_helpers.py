"""Shared pieces of the end-to-end tests: a client-side text model, a recorder of every
publishDiagnostics, and a sample Mix project on disk."""

from __future__ import annotations

import asyncio
import re
import sys
import textwrap
from pathlib import Path

import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import LanguageClient

SERVER_COMMAND = [sys.executable, "-m", "exhort.lsp", "--log-level", "debug"]
_BREAK = re.compile(r"\r\n|\r|\n")


def write_project(root: Path, sources: dict[str, str]) -> Path:
    (root / "mix.exs").write_text('defmodule Sample.MixProject do\n  use Mix.Project\nend\n')
    for relative, text in sources.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def column_to_index(line: str, units: int, encoding: str) -> int:
    """Client side, written independently of the server: an LSP column -> str index."""
    count = 0
    for index, char in enumerate(line):
        width = {"utf-8": len(char.encode()), "utf-16": 2 if ord(char) > 0xFFFF else 1, "utf-32": 1}[encoding]
        if count + width > units:
            return index
        count += width
    return len(line)


def index_to_column(line: str, index: int, encoding: str) -> int:
    prefix = line[:index]
    if encoding == "utf-8":
        return len(prefix.encode())
    if encoding == "utf-16":
        return len(prefix.encode("utf-16-le")) // 2
    return len(prefix)


def offset_of(text: str, line: int, column: int, encoding: str) -> int:
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    line = min(line, len(starts) - 1)
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    content = _BREAK.sub("", text[starts[line]:end])
    return starts[line] + column_to_index(content, column, encoding)


def apply_edit(text: str, l0: int, c0: int, l1: int, c1: int, new: str, encoding: str) -> str:
    return text[: offset_of(text, l0, c0, encoding)] + new + text[offset_of(text, l1, c1, encoding):]


def apply_text_edits(text: str, edits, encoding: str) -> str:
    """Apply a TextEdit list the way editors do: all ranges refer to the original text."""
    located = sorted(
        (
            (offset_of(text, e.range.start.line, e.range.start.character, encoding),
             offset_of(text, e.range.end.line, e.range.end.character, encoding), e.new_text)
            for e in edits
        ),
        reverse=True,
    )
    for start, end, new in located:
        text = text[:start] + new + text[end:]
    return text


def change(l0: int, c0: int, l1: int, c1: int, text: str) -> t.TextDocumentContentChangePartial:
    return t.TextDocumentContentChangePartial(range=t.Range(t.Position(l0, c0), t.Position(l1, c1)), text=text)


class Recorder:
    """Keeps every publishDiagnostics (pytest-lsp keeps only the latest per URI)."""

    def __init__(self, client: LanguageClient) -> None:
        self.published: list[t.PublishDiagnosticsParams] = []
        features = client.protocol.fm.features
        original = features[t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

        def record(*args):
            self.published.append(args[-1])
            return original(*args)

        features[t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record

    async def wait(self, uri: str, version: int | None = None, after: int = 0, timeout: float = 10.0, where=None):
        """The first publish for `uri` (and `version`, and satisfying `where`) among those
        after index `after`. `where` lets a test skip a publish that a check scheduled
        before the change under test may still send."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for params in self.published[after:]:
                if params.uri == uri and (version is None or params.version == version) and (where is None or where(params)):
                    return params
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no publish for {uri} v{version}: {[(p.uri, p.version) for p in self.published]}")
            await asyncio.sleep(0.01)


def accept_registrations(client: LanguageClient) -> list[t.Registration]:
    """Answer client/registerCapability like an editor does (pytest-lsp has no handler)."""
    registrations: list[t.Registration] = []

    @client.feature(t.CLIENT_REGISTER_CAPABILITY)
    def register(params: t.RegistrationParams):
        registrations.extend(params.registrations)
        return None

    return registrations


async def initialize(client: LanguageClient, spec: str, root: Path | None, options=None) -> t.InitializeResult:
    folders = [t.WorkspaceFolder(uri=root.as_uri(), name="sample")] if root else None
    return await client.initialize_session(
        t.InitializeParams(
            capabilities=pytest_lsp.client_capabilities(spec),
            root_uri=root.as_uri() if root else None,
            workspace_folders=folders,
            initialization_options=options,
        )
    )


async def debug(client: LanguageClient, command: str, *arguments):
    return await client.workspace_execute_command_async(t.ExecuteCommandParams(command=command, arguments=list(arguments)))


async def wait_for_index(client: LanguageClient, predicate, timeout: float = 10.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = await debug(client, "exhort.debug.index")
        if state["done"] and predicate(state):
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"index never reached the expected state: {state}")
        await asyncio.sleep(0.05)


def open_document(client: LanguageClient, uri: str, text: str, version: int = 1, language: str = "elixir") -> None:
    client.text_document_did_open(
        t.DidOpenTextDocumentParams(t.TextDocumentItem(uri=uri, language_id=language, version=version, text=text))
    )


def did_change(client: LanguageClient, uri: str, version: int, changes) -> None:
    client.text_document_did_change(
        t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=changes
        )
    )


class _Collect:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(data)


class one_write:
    """Messages sent inside the block reach the server in a single write, as an editor's
    burst does (didChange and codeAction read before the server's loop is free again)."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client

    def __enter__(self) -> "one_write":
        self.writer = self.client.protocol.writer
        self.collect = _Collect()
        self.client.protocol.writer = self.collect
        return self

    def __exit__(self, *exc) -> None:
        self.client.protocol.writer = self.writer
        self.writer.write(b"".join(self.collect.chunks))


def request(client: LanguageClient, method: str, params):
    """Send a request now (pytest-lsp's *_async helpers send only once awaited)."""
    return asyncio.wrap_future(client.protocol.send_request(method, params))


async def quiet(client: LanguageClient, seconds: float = 0.8) -> None:
    """Indexing and the background check done, and no publish planned: the debounces
    (index facts 0.3 s, whole-document check 0.25 s) have run out."""
    await wait_for_index(client, lambda s: s["precheck_done"], timeout=20)
    await asyncio.sleep(seconds)
