"""The workspace index: facts about every file that cross-file rules read.

The core records modules (name, defining file, `use` kinds) and the versions locked in
mix.lock. Rule packs add their own facts by declaring extractors (FACTS = {name: fn} in a
module under rules/); the index runs them on every file it sees. Facts are plain data, so
the index can tell when they changed: `generation` goes up, and the caller re-checks the
documents that read them.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .document import Document
from .project import ProjectPath
from .registry import discover_fact_extractors
from .rule import module_info
from .syntax import call_arguments, defmodules, use_kind

logger = logging.getLogger("exhort.workspace")

_LOCK_ENTRY = re.compile(rb'^\s*"([A-Za-z0-9_]+)":\s*\{:hex,\s*:([A-Za-z0-9_]+),\s*"([^"]+)"', re.M)


@dataclass(frozen=True, slots=True)
class ModuleRecord:
    name: str
    path: str
    start: int  # byte range of the module's name in `defmodule Name do`
    end: int
    uses: tuple[str, ...]
    kinds: tuple[str, ...]


def extract_modules(document: Document, _path: ProjectPath) -> tuple[ModuleRecord, ...]:
    """Every module a file defines; nested modules under their full names."""
    if document.tree is None:
        return ()
    records: list[ModuleRecord] = []
    for module, full in defmodules(document.tree.root_node):
        if full is None:
            continue
        info = module_info(document, module)  # memoised: other extractors read the same modules
        alias = call_arguments(module)[0]
        records.append(
            ModuleRecord(
                full,
                document.path,
                alias.start_byte,
                alias.end_byte,
                tuple(u.module for u in info.uses),
                tuple(k for k in (use_kind(u) for u in info.uses) if k),
            )
        )
    return tuple(records)


def parse_mix_lock(data: bytes) -> dict[str, tuple[int, ...]]:
    versions: dict[str, tuple[int, ...]] = {}
    for match in _LOCK_ENTRY.finditer(data):
        version = parse_version(match.group(3).decode())
        if version is not None:
            versions[match.group(2).decode()] = version
    return versions


def parse_version(text: str) -> tuple[int, ...] | None:
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


class WorkspaceIndex:
    """Facts per file, keyed by path. Thread-safe for one writer and many readers."""

    def __init__(
        self,
        root_finder: Callable[[str], str | None] | None = None,
        extractors: dict[str, Callable[[Document, ProjectPath], Any]] | None = None,
    ) -> None:
        self._root_finder = root_finder or (lambda _path: None)
        self._extractors = {"modules": extract_modules, **(extractors if extractors is not None else discover_fact_extractors())}
        self._facts: dict[str, dict[str, Any]] = {}
        self._by_name: dict[str, tuple[int, list[tuple[str, Any]]]] = {}
        self._derived: dict[str, tuple[int, Any]] = {}
        self._locks: dict[str, dict[str, tuple[int, ...]]] = {}  # project root -> versions
        self._roots: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._reported_failures: set[tuple[str, str]] = set()  # (fact, path): logged once each
        self.generation = 0

    # -- updating --------------------------------------------------------------------------

    def project_root_of(self, path: str) -> str | None:
        root = self._roots.get(path, ...)
        if root is ...:
            root = self._root_finder(path)
            self._roots[path] = root
        return root

    def update(self, document: Document) -> set[str]:
        """Re-extract the facts of one file. Returns the names of the facts that changed."""
        return self._store(document.path, self.extract(document))

    def set_facts(self, path: str, facts: dict[str, Any]) -> set[str]:
        """Store facts extracted elsewhere (for example in a worker process)."""
        return self._store(path, facts)

    def _store(self, path: str, facts: dict[str, Any]) -> set[str]:
        with self._lock:
            old = self._facts.get(path, {})
            changed = {name for name in set(old) | set(facts) if old.get(name) != facts.get(name)}
            # a file with no facts at all is not kept
            if any(value for value in facts.values()):
                self._facts[path] = facts
            else:
                self._facts.pop(path, None)
            if changed:
                self.generation += 1
            return changed

    def remove(self, path: str) -> set[str]:
        with self._lock:
            old = self._facts.pop(path, None)
            self._roots.pop(path, None)
            if old and any(old.values()):
                self.generation += 1
                return {name for name, value in old.items() if value}
            return set()

    def set_lockfile(self, path: str, data: bytes | None) -> bool:
        """Record (or forget, with None) the versions of a mix.lock. Returns True if they changed."""
        root = str(Path(path).parent)
        with self._lock:
            versions = parse_mix_lock(data) if data is not None else None
            if self._locks.get(root) == versions:
                return False
            if versions is None:
                self._locks.pop(root, None)
            else:
                self._locks[root] = versions
            self.generation += 1
            return True

    def extract(self, document: Document) -> dict[str, Any]:
        """Every extractor's fact for one document. An extractor may carry `requires`, byte
        strings one of which the text must contain for the fact to exist at all; that cheap
        test spares the extractor's walk of most files."""
        project_path = ProjectPath.of(document.path, self.project_root_of(document.path))
        out: dict[str, Any] = {}
        data = document.data
        for name, extractor in self._extractors.items():
            requires = getattr(extractor, "requires", ())
            if requires and not any(token in data for token in requires):
                out[name] = None
                continue
            try:
                out[name] = extractor(document, project_path)
            except Exception:  # a broken extractor loses only its own fact, loudly
                out[name] = None
                if (name, document.path) not in self._reported_failures:
                    self._reported_failures.add((name, document.path))
                    logger.exception("index fact %r could not be read from %s; rules reading it may miss this file", name, document.path)
        return out

    # -- reading ---------------------------------------------------------------------------

    def paths(self) -> list[str]:
        return list(self._facts)

    def facts(self, name: str) -> Iterator[tuple[str, Any]]:
        """(path, value) for every file that has fact `name`.

        Rules ask this once per match, so the list is kept per index generation instead of
        being rebuilt from every file each time.
        """
        cached = self._by_name.get(name)
        if cached is None or cached[0] != self.generation:
            with self._lock:
                items = [(path, facts[name]) for path, facts in self._facts.items() if facts.get(name)]
            cached = self._by_name[name] = (self.generation, items)
        return iter(cached[1])

    def fact(self, path: str, name: str) -> Any:
        return self._facts.get(path, {}).get(name)

    def facts_of(self, path: str) -> dict[str, Any]:
        """Every fact of one file (none if it has none)."""
        return dict(self._facts.get(path, {}))

    def modules(self) -> Iterator[ModuleRecord]:
        for _path, records in self.facts("modules"):
            yield from records

    def module(self, name: str) -> ModuleRecord | None:
        return self.derived("modules_by_name", lambda index: {r.name: r for r in index.modules()}).get(name)

    def derived(self, key: str, build: Callable[["WorkspaceIndex"], Any]) -> Any:
        """`build(index)`, computed once per index generation.

        Rules ask for lookups over every file (all Oban workers, all Repo modules) once per
        match; rebuilding them each time makes a project check quadratic in its size.
        """
        cached = self._derived.get(key)
        if cached is None or cached[0] != self.generation:
            cached = self._derived[key] = (self.generation, build(self))
        return cached[1]

    def locked_version(self, path: str, package: str) -> tuple[int, ...] | None:
        """The version of `package` in the mix.lock of `path`'s project (or an umbrella's root)."""
        root = self.project_root_of(path)
        candidates: Iterable[str] = []
        if root is not None:
            folder = Path(root)
            candidates = [str(folder), *(str(p) for p in folder.parents)]
        for candidate in candidates:
            versions = self._locks.get(candidate)
            if versions is not None:
                return versions.get(package)
        if len(self._locks) == 1:
            return next(iter(self._locks.values())).get(package)
        return None
