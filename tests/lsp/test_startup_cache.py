"""The start-up cache of attrs' generated methods (exhort.lsp.codecache): the server starts
with it cold, warm, corrupt or stale, and a cached method is only reused for its own source."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from types import CodeType

import attrs
import pytest

from exhort.lsp.codecache import cache_file, cached_attrs_methods
from raw_client import frame, frames


def _start_and_stop(cache_home, hash_seed: str = "0") -> dict:
    """Run the server over stdio through initialize, shutdown and exit; return initialize's result."""
    messages = b"".join(
        frame(message)
        for message in (
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}},
            {"jsonrpc": "2.0", "method": "initialized", "params": {}},
            {"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None},
            {"jsonrpc": "2.0", "method": "exit", "params": None},
        )
    )
    # A fixed hash seed: a few generated sources follow set order, and this test compares starts.
    environment = dict(os.environ, XDG_CACHE_HOME=str(cache_home), PYTHONHASHSEED=hash_seed)
    done = subprocess.run(
        [sys.executable, "-m", "exhort.lsp", "--log-level", "warning"],
        input=messages, capture_output=True, env=environment, timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    return next(message["result"] for message in frames(done.stdout) if message.get("id") == 1)


@pytest.fixture
def cache_path(tmp_path, monkeypatch):
    """Where a server started with XDG_CACHE_HOME=tmp_path keeps its cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return cache_file()


def test_first_start_writes_the_cache_and_a_warm_start_uses_every_entry(tmp_path, cache_path):
    path = cache_path
    assert _start_and_stop(tmp_path)["serverInfo"]["name"] == "exhort"
    entries = marshal.loads(path.read_bytes())
    assert len(entries) > 500 and all(isinstance(code, CodeType) for code in entries.values())

    written = path.read_bytes()
    _start_and_stop(tmp_path)
    # The file is rewritten only when a method was new: an identical file means every
    # generated method of the second start came from the cache.
    assert path.read_bytes() == written


def test_a_corrupt_cache_is_ignored_and_replaced(tmp_path, cache_path):
    path = cache_path
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00not marshal data\xff" * 100)
    assert _start_and_stop(tmp_path)["capabilities"]["textDocumentSync"]
    assert len(marshal.loads(path.read_bytes())) > 500


def test_stale_entries_are_dropped(tmp_path, cache_path):
    path = cache_path
    _start_and_stop(tmp_path)
    entries = marshal.loads(path.read_bytes())
    stale = compile("x = 1", "<stale>", "exec")
    entries.update({number.to_bytes(16, "big"): stale for number in range(len(entries) // 5)})
    path.write_bytes(marshal.dumps(entries))
    _start_and_stop(tmp_path)
    kept = marshal.loads(path.read_bytes())
    assert (0).to_bytes(16, "big") not in kept and len(kept) > 500


def test_a_source_that_varies_with_the_hash_seed_is_not_piled_up(tmp_path, cache_path):
    """attrs salts generated __hash__ methods with str hashes: starts with other seeds must
    neither grow the file nor rewrite it."""
    path = cache_path
    _start_and_stop(tmp_path)
    written = path.read_bytes()
    for seed in ("1", "2", "3"):
        _start_and_stop(tmp_path, seed)
    assert path.read_bytes() == written


def test_a_cached_method_is_reused_only_for_the_same_source(tmp_path):
    path = tmp_path / "methods.marshal"
    with cached_attrs_methods(path):
        @attrs.define
        class Point:
            x: int
            y: int = 0

    assert Point(1) == Point(1, 0) and repr(Point(2, 3)) == "Point(x=2, y=3)"
    assert len(marshal.loads(path.read_bytes())) == 1

    with cached_attrs_methods(path):
        @attrs.define
        class Point:  # the same name and file, other fields: other generated source
            x: int
            z: str = "z"

    assert repr(Point(1)) == "Point(x=1, z='z')"
    assert not hasattr(Point(1), "y")
