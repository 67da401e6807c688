"""Run one rule through the engine over a small in-memory workspace (for pack tests that
look at what the examples cannot: severities, messages, cross-file facts)."""

from __future__ import annotations

import textwrap

from exhort.config import Config
from exhort.document import Document
from exhort.engine import Engine
from exhort.findings import Finding
from exhort.workspace import WorkspaceIndex

ROOT = "/workspace/app"


def findings(code: str, files: dict[str, str], path: str) -> list[tuple[int, Finding]]:
    """(1-based line, finding) of every `code` finding in `path`, with `files` in the workspace."""
    index = WorkspaceIndex(root_finder=lambda _path: ROOT)
    documents = {name: Document(f"{ROOT}/{name}", textwrap.dedent(source).lstrip("\n")) for name, source in files.items()}
    for document in documents.values():
        index.update(document)
    result = Engine(Config(select=(code,))).check(documents[path], index)
    assert not result.failures, result.failures[0].error
    lines = documents[path].lines
    return sorted(((lines.line_of(f.start) + 1, f) for f in result.findings if f.code == code), key=lambda item: item[0])
