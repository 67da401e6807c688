"""A disk cache for the methods attrs generates while lsprotocol is imported.

lsprotocol.types defines about 570 attrs classes; attrs writes the source of each class's
`__init__`, `__eq__`, `__repr__`... and compiles it at import. Compiling is about half of the
import, and the import is most of the server's start-up (0.55 s of 0.85 s on a 2-core machine).
The generated source is the same on every start, so the compiled code objects are kept in a
marshal file, the way Python keeps a module's bytecode in a .pyc.

Correct by construction: an entry is keyed by a digest of the exact source and file name
handed to compile(), and the file by the interpreter's bytecode magic number and optimisation
level, so a code object is only ever reused for the source it was compiled from. Any problem
(no attrs internals to hook, an unreadable, corrupt or unwritable cache) means plain compiling.
"""

from __future__ import annotations

import __future__
import builtins
import hashlib
import importlib.util
import logging
import marshal
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from types import CodeType
from typing import Iterator

logger = logging.getLogger("exhort.lsp")


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = f"{importlib.util.MAGIC_NUMBER.hex()}-O{sys.flags.optimize}"
    return Path(base) / "exhort" / f"attrs-methods-{tag}.marshal"


def _load(path: Path) -> dict[bytes, CodeType]:
    try:
        with path.open("rb") as stream:
            entries = marshal.load(stream)
    except FileNotFoundError:
        return {}
    except (OSError, EOFError, ValueError, TypeError) as error:
        logger.debug("ignoring the attrs method cache %s: %s", path, error)
        return {}
    if not isinstance(entries, dict):
        return {}
    return {key: code for key, code in entries.items() if isinstance(key, bytes) and isinstance(code, CodeType)}


def _save(path: Path, entries: dict[bytes, CodeType]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # only when writing: keeps its imports off every start

        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                marshal.dump(entries, stream)
            os.replace(temporary, path)  # atomic: a concurrent start reads the old or the new file
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        logger.debug("cannot write the attrs method cache %s: %s", path, error)


def _future_flags(module) -> int:
    """The compiler flags a compile() call inside `module` inherits from its __future__ imports."""
    flags = 0
    for name in __future__.all_feature_names:
        feature = getattr(__future__, name)
        if getattr(module, name, None) is feature:
            flags |= feature.compiler_flag
    return flags


@contextmanager
def cached_attrs_methods(path: Path | None = None) -> Iterator[None]:
    """Within the block, attrs' generated methods come from (and go to) the cache file."""
    try:
        import attr._make as attrs_make
    except ImportError:
        yield
        return
    if not hasattr(attrs_make, "_compile_and_eval") or "compile" in vars(attrs_make):
        yield  # not the attrs this hook knows, or already hooked
        return
    path = path or cache_file()
    stored = _load(path)
    cached_files = {code.co_filename for code in stored.values()}
    used: set[bytes] = set()
    added: dict[bytes, CodeType] = {}
    inherited = _future_flags(attrs_make)

    def compile_cached(source, filename, mode, *more, **options):
        if more or options or not isinstance(source, str) or not isinstance(filename, str):
            return builtins.compile(source, filename, mode, *more, **options)
        key = hashlib.blake2b(f"{mode}\0{filename}\0{source}".encode(), digest_size=16).digest()
        code = stored.get(key)
        if code is not None:
            used.add(key)
            return code
        code = builtins.compile(source, filename, mode, inherited, True)
        # attrs salts a generated __hash__ with the string hash of the class's name, so that
        # source changes with each run's hash seed: a second source for a file already cached
        # is compiled each time, never stored (it would only pile up).
        if filename not in cached_files:
            added[key] = code
        return code

    # A module global shadows the builtin for attrs' own compile() calls only.
    attrs_make.compile = compile_cached
    try:
        yield
    finally:
        del attrs_make.compile
        unused = len(stored) - len(used)
        if unused > len(stored) // 10:  # upgraded packages left stale entries: keep what ran
            _save(path, {**{key: stored[key] for key in used}, **added})
        elif added:
            _save(path, {**stored, **added})
