"""A per-file result cache: a second check of unchanged code costs little more than reading it.

Each checked file has one entry under the cache folder, holding

- its workspace-index facts, valid while the file's *key* holds: Exhort's code, the file's
  path, its Mix project root and its bytes;
- its results per *settings* (the configuration's rule selection, severities and parameters,
  the enabled rules, Exhort's code): the findings, valid while the file's key holds and every
  index fact the check read is unchanged across the workspace. Which facts a check reads is
  recorded as it runs (`ReadRecorder`), so a change to one Oban worker re-checks the files
  whose rules looked at Oban workers and no others.

Entries are JSON, never pickle: a cache folder can come from anywhere (a checked-out
repository, a CI cache), and reading it must never run code. Facts are encoded with type
tags, and only dataclasses, named tuples and enums defined in Exhort's own packages are ever
rebuilt. An entry that cannot be read is a miss.

Knows nothing of terminals; used by the CLI.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from . import __version__

CACHE_FOLDER = ".exhort_cache"
FORMAT = 1
ALL_FACTS = "*"  # a check read the index in a way that cannot be narrowed: any change invalidates it
_TRUSTED_MODULES = ("exhort.", "exhort_rules.")
# What decode_facts raises on an entry that is no longer (or never was) what it wrote.
DAMAGED_FACTS = (ValueError, TypeError, KeyError, AttributeError, ImportError)
_GITIGNORE = "# Created by exhort: the whole folder is a cache.\n*\n"
_CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by exhort.\n"


# -- where ------------------------------------------------------------------------------------


def cache_folder_for(start: Path) -> Path:
    """The project's cache folder: `EXHORT_CACHE_DIR` if set; else beside the nearest
    .exhort.toml above `start`; else in the outermost folder above it holding mix.exs (an
    umbrella's root); else in `start`."""
    override = os.environ.get("EXHORT_CACHE_DIR")
    if override:
        return Path(override)
    start = start.resolve()
    candidates = [start, *start.parents]
    for folder in candidates:
        if (folder / ".exhort.toml").is_file():
            return folder / CACHE_FOLDER
    projects = [folder for folder in candidates if (folder / "mix.exs").is_file()]
    return (projects[-1] if projects else start) / CACHE_FOLDER


class ResultCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._entries = folder / f"v{FORMAT}"
        self._ready = False
        self.write_error: str | None = None  # the first reason writing failed, for one warning

    def _path(self, file: str) -> Path:
        digest = hashlib.sha256(file.encode("utf-8", errors="surrogateescape")).hexdigest()
        return self._entries / digest[:2] / f"{digest[2:]}.json"

    def load(self, file: str) -> dict | None:
        try:
            with open(self._path(file), encoding="utf-8") as handle:
                entry = json.load(handle)
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("file") == file else None

    def store(self, file: str, entry: dict) -> None:
        if self.write_error is not None:
            return
        target = self._path(file)
        try:
            if not self._ready:
                self._prepare()
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({**entry, "file": file}, out, separators=(",", ":"), ensure_ascii=False)
            os.replace(temporary, target)  # a reader sees the old entry or the new, never half
        except OSError as error:
            self.write_error = f"{self.folder}: {error.strerror or error}"

    def load_facts(self, file: str, key: str) -> dict[str, Any] | None:
        """The index facts of `file` cached for this key (see file_key); None when there are
        none, or the entry is damaged."""
        entry = self.load(file)
        if entry is None or entry.get("key") != key or not isinstance(entry.get("fact_digests"), dict):
            return None
        facts = entry.get("facts")
        try:
            return decode_facts(facts) if isinstance(facts, str) else None
        except DAMAGED_FACTS:
            return None

    def store_facts(self, file: str, key: str, facts_json: str, digests: dict[str, str]) -> None:
        """Keep the facts of `file` for this key, beside the results cached for the same key."""
        entry = self.load(file) or {}
        if entry.get("key") != key:
            entry = {"key": key, "results": {}}
        entry["facts"], entry["fact_digests"] = facts_json, digests
        self.store(file, entry)

    def _prepare(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", _GITIGNORE), ("CACHEDIR.TAG", _CACHEDIR_TAG)):
            if not (self.folder / name).exists():
                (self.folder / name).write_text(text, encoding="utf-8")
        self._ready = True

    def clean(self) -> bool:
        """Remove the cache folder. False when there was none."""
        if not self.folder.exists():
            return False
        shutil.rmtree(self.folder)
        return True


# -- keys -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Exhort's version plus the size and time of every module of the engine and the rules,
    so that an edited rule (a development checkout keeps its version) never reuses results."""
    import exhort_rules

    digest = hashlib.sha256(__version__.encode())
    for package in (Path(__file__).parent, Path(exhort_rules.__file__).parent):
        for source in sorted(package.rglob("*")):
            if source.suffix in (".py", ".scm", ".toml", ".json") and "__pycache__" not in source.parts:
                stat = source.stat()
                digest.update(f"{source.relative_to(package)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def file_key(path: str, project_root: str | None, data: bytes) -> str:
    digest = hashlib.sha256(f"{code_fingerprint()}\0{path}\0{project_root}\0".encode("utf-8", "surrogateescape"))
    digest.update(data)
    return digest.hexdigest()[:32]


def settings_key(*parts: Any) -> str:
    """A digest of what, besides the file, decides its findings (config, enabled rules, flags)."""
    text = canonical_json([code_fingerprint(), *[encode_value(part) for part in parts]])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


# -- values as JSON ---------------------------------------------------------------------------


class Unencodable(TypeError):
    pass


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode_value(value: Any) -> Any:
    """Plain data as JSON with type tags: tuples, sets and dicts keep their kind, and the
    dataclasses, named tuples and enums of Exhort's packages their class. Sets are sorted by
    their items' encodings, so equal values always encode to the same text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return {"e": _class_name(value), "v": encode_value(value.value)}
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, bytes):
        return {"b": value.decode("latin-1")}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"n": _class_name(value), "v": [encode_value(item) for item in value]}
    if isinstance(value, tuple):
        return {"t": [encode_value(item) for item in value]}
    if isinstance(value, list):
        return {"l": [encode_value(item) for item in value]}
    if isinstance(value, (set, frozenset)):
        items = sorted((encode_value(item) for item in value), key=canonical_json)
        return {"f" if isinstance(value, frozenset) else "s": items}
    if isinstance(value, dict):
        return {"d": [[encode_value(key), encode_value(item)] for key, item in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"c": _class_name(value), "v": fields}
    raise Unencodable(f"cannot cache a {type(value).__name__}")


def decode_value(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    if "t" in data:
        return tuple(decode_value(item) for item in data["t"])
    if "l" in data:
        return [decode_value(item) for item in data["l"]]
    if "f" in data:
        return frozenset(decode_value(item) for item in data["f"])
    if "s" in data:
        return {decode_value(item) for item in data["s"]}
    if "d" in data:
        return {decode_value(key): decode_value(item) for key, item in data["d"]}
    if "b" in data:
        return data["b"].encode("latin-1")
    if "e" in data:
        return _trusted_class(data["e"], enum.Enum)(decode_value(data["v"]))
    if "n" in data:
        return _trusted_class(data["n"], tuple)(*(decode_value(item) for item in data["v"]))
    if "c" in data:
        cls = _trusted_class(data["c"], object)
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"{data['c']} is not a dataclass")
        built = object.__new__(cls)  # fields set as stored, no __init__ or __post_init__ run
        for name, item in data["v"].items():
            object.__setattr__(built, name, decode_value(item))
        return built
    raise ValueError(f"unknown tag in {sorted(data)}")


def _class_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    if not module.startswith(_TRUSTED_MODULES):
        raise Unencodable(f"{module}.{cls.__qualname__} is not one of Exhort's classes")
    return f"{module}:{cls.__qualname__}"


def _trusted_class(name: str, base: type) -> type:
    module_name, _, qualname = name.partition(":")
    if not module_name.startswith(_TRUSTED_MODULES):
        raise ValueError(f"{name} is not one of Exhort's classes")
    found: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not isinstance(found, type) or not issubclass(found, base):
        raise ValueError(f"{name} is not a {base.__name__}")
    return found


def fact_digests(facts: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The facts of one file as canonical JSON, and a digest per fact that exists (truthy)."""
    encoded = {name: encode_value(value) for name, value in facts.items()}
    digests = {
        name: hashlib.sha256(canonical_json(encoded[name]).encode("utf-8", "surrogateescape")).hexdigest()[:24]
        for name, value in facts.items()
        if value
    }
    return canonical_json(encoded), digests


def decode_facts(text: str) -> dict[str, Any]:
    return {name: decode_value(value) for name, value in json.loads(text).items()}


def workspace_digests(per_file: Iterable[tuple[str, dict[str, str]]], lockfiles: Iterable[tuple[str, bytes]]
                      ) -> dict[str, str]:
    """One digest per fact name over every file that has it, one for the lockfiles, and one
    over everything (ALL_FACTS)."""
    by_name: dict[str, hashlib._Hash] = {}
    everything = hashlib.sha256()
    for path, digests in sorted(per_file):
        for name, digest in sorted(digests.items()):
            line = f"{path}\0{digest}\n".encode("utf-8", "surrogateescape")
            by_name.setdefault(name, hashlib.sha256()).update(line)
            everything.update(name.encode() + b"\0" + line)
    result = {name: digest.hexdigest()[:24] for name, digest in by_name.items()}
    locks = hashlib.sha256()
    for path, data in sorted(lockfiles):
        locks.update(path.encode("utf-8", "surrogateescape") + b"\0" + hashlib.sha256(data).digest())
    result["lockfiles"] = locks.hexdigest()[:24]
    everything.update(locks.digest())
    result[ALL_FACTS] = everything.hexdigest()[:24]
    return result


# -- what a check reads -----------------------------------------------------------------------


class ReadRecorder:
    """A WorkspaceIndex as a check sees it, noting which facts it reads.

    Lookups built over the whole index (`derived`) are built once per process through a
    recorder of their own, and what they read is added to every check that uses them.
    """

    # per process: lookup key -> the facts and project roots its build read
    _derived_reads: dict[str, tuple[frozenset[str], dict[str, str | None]]] = {}

    def __init__(self, index) -> None:
        self._index = index
        self.facts_read: set[str] = set()
        self.roots_read: dict[str, str | None] = {}

    @property
    def generation(self) -> int:
        return self._index.generation

    def project_root_of(self, path: str) -> str | None:
        root = self._index.project_root_of(path)
        self.roots_read[path] = root
        return root

    def facts(self, name: str):
        self.facts_read.add(name)
        return self._index.facts(name)

    def fact(self, path: str, name: str):
        self.facts_read.add(name)
        return self._index.fact(path, name)

    def modules(self):
        self.facts_read.add("modules")
        return self._index.modules()

    def module(self, name: str):
        self.facts_read.add("modules")
        return self._index.module(name)

    def locked_version(self, path: str, package: str):
        self.facts_read.add("lockfiles")
        self.project_root_of(path)
        return self._index.locked_version(path, package)

    def derived(self, key: str, build):
        known = ReadRecorder._derived_reads.get(key)
        if known is None:
            recorder = ReadRecorder(self._index)
            built = []

            def build_recorded(_index):
                built.append(True)
                return build(recorder)

            value = self._index.derived(key, build_recorded)
            # built before any recorder saw it (not by a check of this process): assume it read everything
            facts = frozenset(recorder.facts_read) if built else frozenset({ALL_FACTS})
            known = ReadRecorder._derived_reads[key] = (facts, dict(recorder.roots_read))
        else:
            value = self._index.derived(key, build)
        self.facts_read |= known[0]
        self.roots_read.update(known[1])
        return value

    def __getattr__(self, name: str):
        # anything else (paths(), a method added later) reads what it reads: assume everything
        self.facts_read.add(ALL_FACTS)
        return getattr(self._index, name)

    def reads(self, own_path: str) -> dict:
        roots = {path: root for path, root in self.roots_read.items() if path != own_path}
        return {"facts": sorted(self.facts_read), "roots": roots}
