"""Finds the rules under rules/ (the exhort_rules package) and compiles their queries.

Rules are grouped by scope across packs; each group's patterns are concatenated into one
tree-sitter Query, and matches are dispatched to rules by pattern index. The query is not
run over every node: exhort.matching finds its matches from the names the patterns anchor
on, so a group costs a text search plus a query run at each node where a match could start.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from dataclasses import dataclass
from functools import cached_property

from .matching import AnchoredMatcher
from .parsing import compile_query
from .rule import FactExtractor, HoverProvider, Rule
from .suppression import UNUSED_SUPPRESSION

RULES_PACKAGE = "exhort_rules"


@dataclass
class RuleGroup:
    scope: str
    rules: list[Rule]

    @property
    def key(self) -> str:
        return self.scope

    @cached_property
    def compiled(self) -> tuple[AnchoredMatcher | None, list[tuple[Rule, int]]]:
        """The matcher of the group's combined query and, per pattern, (rule, pattern index
        within the rule)."""
        sources = [(rule, rule.query) for rule in self.rules if rule.query]
        if not sources:
            return None, []
        combined = ""
        spans: list[tuple[int, int, Rule]] = []
        for rule, source in sources:
            start = len(combined.encode())
            combined += source.strip() + "\n"
            spans.append((start, len(combined.encode()), rule))
        query = compile_query(combined)
        dispatch: list[tuple[Rule, int]] = []
        counters: dict[str, int] = {}
        for index in range(query.pattern_count):
            offset = query.start_byte_for_pattern(index)
            rule = next(r for s, e, r in spans if s <= offset < e)
            number = counters.get(rule.code, 0)
            counters[rule.code] = number + 1
            dispatch.append((rule, number))
        return AnchoredMatcher(query, combined), dispatch


class Registry:
    def __init__(self, rules: list[Rule]) -> None:
        codes = [rule.code for rule in rules]
        duplicates = {code for code in codes if codes.count(code) > 1}
        if duplicates:
            raise ValueError(f"duplicate rule codes: {sorted(duplicates)}")
        self.rules = sorted(rules, key=lambda r: r.code)
        self.by_code = {rule.code: rule for rule in self.rules}

    def groups(self, enabled: set[str]) -> list[RuleGroup]:
        """Groups of the enabled rules; compiled queries are shared across calls."""
        key = frozenset(enabled)
        cached = self._groups.get(key)
        if cached is not None:
            return cached
        buckets: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.code in enabled:
                buckets.setdefault(rule.scope, []).append(rule)
        groups = [RuleGroup(scope, rules) for scope, rules in sorted(buckets.items())]
        self._groups[key] = groups
        return groups

    @cached_property
    def _groups(self) -> dict[frozenset[str], list[RuleGroup]]:
        return {}

    def __iter__(self):
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


def discover_rules(package: str = RULES_PACKAGE) -> list[Rule]:
    """Import every module of every pack under `package` and collect their RULE objects."""
    root = importlib.import_module(package)
    rules: list[Rule] = []
    for pack in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        if not pack.ispkg:
            continue
        pack_module = importlib.import_module(f"{package}.{pack.name}")
        for info in sorted(pkgutil.iter_modules(pack_module.__path__), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package}.{pack.name}.{info.name}")
            for rule in _rules_in(module):
                rule.pack = pack.name
                rules.append(rule)
    return rules


def _pack_modules(package: str = RULES_PACKAGE):
    """Every pack package and every module inside it (helpers such as options.py included)."""
    root = importlib.import_module(package)
    for pack in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        if not pack.ispkg:
            continue
        pack_module = importlib.import_module(f"{package}.{pack.name}")
        yield pack_module
        for info in sorted(pkgutil.iter_modules(pack_module.__path__), key=lambda m: m.name):
            if not info.name.startswith("__"):
                yield importlib.import_module(f"{package}.{pack.name}.{info.name}")


def discover_fact_extractors(package: str = RULES_PACKAGE) -> dict[str, "FactExtractor"]:
    """Workspace-index fact extractors declared by rule modules (FACTS = {name: function})."""
    found: dict[str, FactExtractor] = {}
    for module in _pack_modules(package):
        for name, function in getattr(module, "FACTS", {}).items():
            if name in found and found[name] is not function:
                raise ValueError(f"two fact extractors named {name!r}")
            found[name] = function
    return found


def discover_hover_providers(package: str = RULES_PACKAGE) -> list["HoverProvider"]:
    """Hover providers declared by modules under rules/ (HOVERS = [function, ...]).

    A provider is called as provider(ctx, node) with the smallest named node under the
    cursor and returns markdown, or None when it has nothing to say about that node. The
    option references (Oban worker options, supervisor options, stream options) live there.
    """
    providers: list[HoverProvider] = []
    for module in _pack_modules(package):
        for function in getattr(module, "HOVERS", []):
            if function not in providers:
                providers.append(function)
    return providers


def _rules_in(module) -> list[Rule]:
    found = []
    if isinstance(getattr(module, "RULE", None), Rule):
        found.append(module.RULE)
    found.extend(r for r in getattr(module, "RULES", []) if isinstance(r, Rule))
    return found


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    global _default
    with _default_lock:
        if _default is None:
            from .suppression import UNUSED_SUPPRESSION
            from .syntax_errors import SYNTAX_ERROR

            _default = Registry([*discover_rules(), UNUSED_SUPPRESSION, SYNTAX_ERROR])
        return _default
