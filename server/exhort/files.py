"""Files on disk: discovery, Mix project roots and careful reading.

Used by both adapters (CLI and language server). The engine never reads files itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from .config import Config

SOURCE_SUFFIXES = (".ex", ".exs", ".heex")
MAX_FILE_BYTES = 5 * 1024 * 1024  # larger files are reported and skipped


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def is_source(path: Path) -> bool:
    return path.name.endswith(SOURCE_SUFFIXES)


def discover(paths: list[Path], config_for) -> Iterator[Path]:
    """Source files under `paths`, honouring each file's config excludes.

    `config_for(path) -> Config` gives the config in force for a path. A file named
    explicitly on the command line is checked even when it matches an exclude.
    """
    for path, _resolved in discover_resolved(paths, config_for):
        yield path


def discover_resolved(paths: list[Path], config_for) -> Iterator[tuple[Path, str]]:
    """`discover`, with each file's resolved path (`str(path.resolve())`), found once per
    folder and then only for the files that are symbolic links: resolving walks every
    component of a path, once per file that was a good part of a run's start-up."""
    seen: set[str] = set()
    for given in paths:
        if given.is_file():
            resolved = str(given.resolve())
            if resolved not in seen:
                seen.add(resolved)
                yield given, resolved
            continue
        for directory, subdirs, files in os.walk(given):
            folder = Path(directory)
            config: Config = config_for(folder)
            subdirs[:] = sorted(d for d in subdirs if not config.is_excluded(folder / d / "x")
                                and not config.is_excluded(folder / d))
            real_folder = None
            for name in sorted(files):
                candidate = folder / name
                if not is_source(candidate) or config.is_excluded(candidate):
                    continue
                if real_folder is None:
                    real_folder = os.path.realpath(directory)
                resolved = os.path.join(real_folder, name)
                if os.path.islink(resolved):
                    resolved = os.path.realpath(resolved)
                if resolved not in seen:
                    seen.add(resolved)
                    yield candidate, resolved


def read_source(path: Path) -> tuple[str | None, Skipped | None]:
    """The file's text, or why it was skipped (unreadable, too large, not UTF-8)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, Skipped(str(path), f"file is too large ({size // 1024} KiB > {MAX_FILE_BYTES // 1024} KiB)")
        data = path.read_bytes()
    except OSError as error:
        return None, Skipped(str(path), f"cannot read file: {error.strerror or error}")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        return None, Skipped(str(path), f"not UTF-8 (invalid byte at offset {error.start})")


@lru_cache(maxsize=4096)
def find_project_root(directory: str) -> str | None:
    """The nearest folder at or above `directory` holding mix.exs (each umbrella app is its own)."""
    folder = Path(directory)
    for candidate in (folder, *folder.parents):
        if (candidate / "mix.exs").is_file():
            return str(candidate)
    return None


def project_root_for_file(path: str) -> str | None:
    return find_project_root(str(Path(path).resolve().parent))


def index_files(index, paths: list[Path], config_for) -> int:
    """Feed every source file and mix.lock under `paths` to a WorkspaceIndex (sequentially).

    Returns the number of source files indexed. Unreadable or non-UTF-8 files are skipped.
    """
    from .document import Document

    count = 0
    for given in paths:
        for lock in ([given] if given.name == "mix.lock" else given.rglob("mix.lock") if given.is_dir() else []):
            if "deps" in lock.parts or "_build" in lock.parts:
                continue
            try:
                index.set_lockfile(str(lock.resolve()), lock.read_bytes())
            except OSError:
                pass
    for path in discover(paths, config_for):
        text, skipped = read_source(path)
        if skipped is None and text is not None:
            index.update(Document(str(path.resolve()), text))
            count += 1
    return count
