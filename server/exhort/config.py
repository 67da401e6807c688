"""Configuration: .exhort.toml, command-line flags and editor settings.

    select = ["ALL"]               # codes, prefixes ("OBN", "LV0"), rule names or "ALL"
    ignore = ["STY001"]
    exclude = ["deps/", "_build/"]  # replaces the default excludes
    extend-exclude = ["priv/static/"]

    [rules.SEC003]                  # per rule: severity and the rule's parameters
    severity = "error"

The file is data: it is parsed with tomllib and nothing in it is executed. Mistakes are
ConfigErrors naming the file and line, with the closest valid spelling where one exists.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .execution import Runs
from .findings import Severity

if TYPE_CHECKING:
    from .registry import Registry

CONFIG_FILE = ".exhort.toml"
DEFAULT_EXCLUDE = ("deps/", "_build/", "node_modules/", ".git/", ".elixir_ls/", "cover/")
TOP_LEVEL_KEYS = ("select", "ignore", "exclude", "extend-exclude", "rules")


class ConfigError(Exception):
    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    severity_overrides: dict[str, Severity] = field(default_factory=dict)
    rule_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: str | None = None  # the file it came from
    root: str | None = None  # folder the exclude globs are relative to

    # -- which rules run -----------------------------------------------------------------

    def enabled_codes(self, registry: "Registry") -> set[str]:
        enabled = set()
        for rule in registry.rules:
            if _matches(rule, self.select) and not _matches(rule, self.ignore, selecting=False):
                enabled.add(rule.code)
        return enabled

    def with_overrides(
        self,
        *,
        select: Iterable[str] | None = None,
        ignore: Iterable[str] | None = None,
        extend_ignore: Iterable[str] | None = None,
        severity: dict[str, Severity] | None = None,
    ) -> "Config":
        """Layer command-line flags or editor settings over the file's values."""
        changes: dict[str, Any] = {}
        if select is not None:
            changes["select"] = tuple(select)
        if ignore is not None:
            changes["ignore"] = tuple(ignore)
        if extend_ignore:
            changes["ignore"] = tuple(changes.get("ignore", self.ignore)) + tuple(extend_ignore)
        if severity:
            changes["severity_overrides"] = {**self.severity_overrides, **severity}
        return replace(self, **changes) if changes else self

    # -- which files are checked ---------------------------------------------------------

    def is_excluded(self, path: Path) -> bool:
        base = self._resolved_root
        try:
            relative = path.resolve().relative_to(base).as_posix() if base else path.as_posix()
        except ValueError:
            relative = path.as_posix()
        return any(_glob_matches(pattern, relative) for pattern in (*self.exclude, *self.extend_exclude))

    @cached_property
    def _resolved_root(self) -> Path | None:
        """The folder the excludes are relative to, resolved once (asked for every file)."""
        return Path(self.root).resolve() if self.root else None


def _matches(rule, selectors: Iterable[str], *, selecting: bool = True) -> bool:
    for selector in selectors:
        upper = selector.upper()
        if upper == rule.code or selector == rule.name:
            return True
        # A rule that is off by default (too often right only in letter on real code) runs
        # only when named by its code or name, as Credo's disabled checks do.
        if selecting and not rule.enabled_by_default:
            continue
        if upper == "ALL" or rule.code.startswith(upper) or selector == rule.category:
            return True
    return False


def _glob_matches(pattern: str, relative: str) -> bool:
    """Gitignore-like: a pattern without "/" (a trailing one aside) matches any path component."""
    pattern = pattern.strip()
    if not pattern:
        return False
    directory_only = pattern.endswith("/")
    core = pattern.rstrip("/")
    parts = relative.split("/")
    if "/" not in core:
        candidates = parts[:-1] if directory_only else parts
        if not any(special in core for special in "*?["):  # "deps/": a plain name, compared (every file, every run)
            return core in candidates
        return any(fnmatch.fnmatchcase(part, core) for part in candidates)
    core = core.lstrip("/")
    regex = _glob_regex(core)
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts) - (1 if directory_only else 0))]
    return any(regex.fullmatch(prefix) for prefix in prefixes)


def _glob_regex(glob: str) -> re.Pattern[str]:
    out = []
    index = 0
    while index < len(glob):
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif glob.startswith("**", index):
            out.append(".*")
            index += 2
        elif glob[index] == "*":
            out.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(glob[index]))
            index += 1
    return re.compile("".join(out))


# -- reading .exhort.toml -----------------------------------------------------------------


def find_config_file(start: Path) -> Path | None:
    directory = start if start.is_dir() else start.parent
    directory = directory.resolve()
    for folder in (directory, *directory.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path, registry: "Registry") -> Config:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror or error}", str(path)) from error
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError("not UTF-8 text", str(path)) from error
    return parse_config(source, registry, str(path), str(path.parent))


def parse_config(source: str, registry: "Registry", path: str = CONFIG_FILE, root: str | None = None) -> Config:
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        raise ConfigError(f"invalid TOML: {error}", path, int(match.group(1)) if match else None) from error
    locate = _Locator(source)

    def fail(message: str, key: str, table: str | None = None) -> ConfigError:
        return ConfigError(message, path, locate(key, table))

    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise fail(f"unknown key {key!r}{_suggest(key, TOP_LEVEL_KEYS)}", key)

    def string_list(key: str) -> tuple[str, ...] | None:
        if key not in data:
            return None
        value = data[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise fail(f"{key!r} must be a list of strings", key)
        return tuple(value)

    select = string_list("select")
    ignore = string_list("ignore")
    for key, selectors in (("select", select), ("ignore", ignore)):
        for selector in selectors or ():
            if not _valid_selector(selector, registry):
                raise fail(f"unknown rule code {selector!r} in {key!r}{_suggest_code(selector, registry)}", key)

    severity: dict[str, Severity] = {}
    params: dict[str, dict[str, Any]] = {}
    rules_table = data.get("rules", {})
    if not isinstance(rules_table, dict):
        raise fail("'rules' must be a table of [rules.CODE] tables", "rules")
    for code, settings in rules_table.items():
        rule = registry.by_code.get(code.upper())
        if rule is None:
            raise fail(f"unknown rule code {code!r}{_suggest_code(code, registry)}", f"rules.{code}")
        if not isinstance(settings, dict):
            raise fail(f"[rules.{code}] must be a table", f"rules.{code}")
        for key, value in settings.items():
            table = f"rules.{code}"
            if key == "severity":
                if not isinstance(value, str):
                    raise fail("severity must be a string", key, table)
                try:
                    severity[rule.code] = Severity.parse(value)
                except ValueError as error:
                    raise fail(str(error), key, table) from error
                continue
            if key == "runs-in" and rule.runs_in is not None:
                params.setdefault(rule.code, {})[key] = _places(value, lambda message: fail(message, key, table))
                continue
            param = rule.params.get(key)
            if param is None:
                allowed = ("severity", *(("runs-in",) if rule.runs_in is not None else ()), *rule.params)
                raise fail(f"unknown setting {key!r} for {rule.code}{_suggest(key, allowed)}", key, table)
            if not _same_type(value, param.default):
                expected = type(param.default).__name__
                raise fail(f"{rule.code}.{key} must be a {expected}, got {type(value).__name__}", key, table)
            params.setdefault(rule.code, {})[key] = value

    defaults = Config()
    return Config(
        select=select if select is not None else defaults.select,
        ignore=ignore if ignore is not None else (),
        exclude=string_list("exclude") or defaults.exclude,
        extend_exclude=string_list("extend-exclude") or (),
        severity_overrides=severity,
        rule_params=params,
        path=path,
        root=root,
    )


def validate_selectors(selectors: Iterable[str], registry: "Registry", origin: str) -> None:
    for selector in selectors:
        if not _valid_selector(selector, registry):
            raise ConfigError(f"unknown rule code {selector!r} in {origin}{_suggest_code(selector, registry)}")


def _valid_selector(selector: str, registry: "Registry") -> bool:
    upper = selector.upper()
    if upper == "ALL":
        return True
    return any(
        rule.code.startswith(upper) or rule.name == selector or rule.category == selector for rule in registry.rules
    )


def _places(value: Any, fail: Callable[[str], ConfigError]) -> frozenset[Runs]:
    """`runs-in = ["production", "test"]`: where a rule about run-time risk reports."""
    names = [place.value for place in Runs]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail(f"runs-in must be a list of places: {', '.join(names)}")
    places = set()
    for item in value:
        try:
            places.add(Runs(item))
        except ValueError:
            raise fail(f"unknown place {item!r} in runs-in{_suggest(item, names)}; places: {', '.join(names)}") from None
    return frozenset(places)


def _same_type(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, list):
        return isinstance(value, list) and all(
            _same_type(v, default[0]) for v in value
        ) if default else isinstance(value, list)
    return isinstance(value, type(default))


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _suggest_code(word: str, registry: "Registry") -> str:
    options = [rule.code for rule in registry.rules] + [rule.name for rule in registry.rules]
    close = difflib.get_close_matches(word.upper(), options, n=1, cutoff=0.5) or difflib.get_close_matches(
        word, options, n=1, cutoff=0.6
    )
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Locator:
    """Finds the line of a key in TOML source; tomllib keeps no positions."""

    _HEADER = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()

    def __call__(self, key: str, table: str | None = None) -> int | None:
        current = ""
        header_line = None
        for number, line in enumerate(self.lines, start=1):
            header = self._HEADER.match(line)
            if header:
                current = header.group(1).replace('"', "").replace(" ", "")
                if table is None and current == key:
                    return number
                if table is not None and current == table:
                    header_line = number
                continue
            if current == (table or "") and re.match(rf'^\s*"?{re.escape(key)}"?\s*=', line):
                return number
        return header_line
