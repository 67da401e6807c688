"""Query matches found from the names their patterns anchor on, instead of a walk of every node.

A tree-sitter query pass visits every node of the tree and, at each node, tries every pattern
whose root has that node's type: with dozens of patterns rooted at `call`, a pass over a
file costs ten simple walks of it. But nearly every pattern of a rule names what it looks
for: `(#eq? @fun "to_atom")`, `(#any-of? @mod "GenServer" "Agent")`. Such a pattern can only
match where that text is written, so the text is searched first (one regex over the bytes,
at C speed), and the query is run only at the few nodes from which a match could start:
for each occurrence, the node whose text it is (the captured node) and, above it, the node
as many levels up as the pattern puts the capture below its root. The query runs there with
a start depth of 0, so it returns exactly the matches rooted at that node: the matches are
the ones a full pass would find, with the same captures.

What is derived from the query text, per pattern:
- an exact anchor: `#eq?` / `#any-of?` on a capture the pattern always has; the captured
  node's text equals one of the strings.
- a contained anchor: `#match?` on such a capture whose node type the pattern names, when
  the regex requires one of a few literal strings (`^unique:`, `(Routes|Router\\.Helpers)$`);
  the captured node is then the nearest node of that type around an occurrence.
- otherwise the pattern is left to one ordinary pass over the unit ("residual" patterns),
  skipped when none of their required strings (if every one has some) occurs there.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import ahocorasick_rs
import tree_sitter as ts

from .parsing import compile_query

try:  # the regex parser (sre_parse and sre_constants warn of their deprecation since 3.11)
    from re import _constants as sre_constants, _parser as sre_parse
except ImportError:  # Python 3.10
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

# -- reading the query text ---------------------------------------------------------------

_TOKEN_PATTERN = (
    r"""\s+|;[^\n]*|(?P<string>"(?:\\.|[^"\\])*")|(?P<open>[(\[])|(?P<close>[)\]])|(?P<capture>@[\w.?!-]+)"""
    r"""|(?P<predicate>\#[\w?!-]+)|(?P<field>[\w-]+:)|(?P<negated>![\w-]+)|(?P<quantifier>[?*+])|(?P<anchor>\.)"""
    r"""|(?P<word>[\w-]+)"""
)
_EXACT_PREDICATES = ("eq?", "any-of?")
_CONTAINED_PREDICATES = ("match?",)


@dataclass(frozen=True)
class CaptureSite:
    """Where a capture sits in a pattern: how many nodes below the pattern's root, and the
    type of the node it captures (None when the pattern leaves it open: `_`, `[...]`)."""

    depth: int
    node_type: str | None


@dataclass(frozen=True)
class PatternText:
    roots: frozenset[str] | None  # the types a match's root can have (None: any)
    captures: dict[str, list[CaptureSite]]
    predicates: list[tuple[str, list[str]]]  # (name without '#', arguments: "@capture" or string values)


def _unquote(token: str) -> str:
    return bytes(token[1:-1], "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")


@lru_cache(maxsize=1)
def _token_regex() -> re.Pattern[str]:
    """Compiled when the first query is read (the server's start does not wait for it)."""
    return re.compile(_TOKEN_PATTERN)


def read_pattern(source: str) -> PatternText:
    """The captures (with their depth below the root) and text predicates of one pattern."""
    captures: dict[str, list[CaptureSite]] = {}
    predicates: list[tuple[str, list[str]]] = []
    # Open brackets: ("node", type) for `(type ...`, ("group", None) for `(` and `[`,
    # ("predicate", index) inside `(#name ...)`.
    stack: list[tuple[str, object]] = []
    last: tuple[int, str | None] | None = None  # (depth, type) of the element just closed
    roots: set[str] | None = set()
    tokens = [m for m in _token_regex().finditer(source) if m.lastgroup is not None]
    for position, match in enumerate(tokens):
        kind, value = match.lastgroup, match.group()
        in_predicate = bool(stack) and stack[-1][0] == "predicate"
        if kind == "open":
            following = tokens[position + 1] if position + 1 < len(tokens) else None
            if value == "(" and following is not None and following.lastgroup == "predicate":
                predicates.append((following.group()[1:], []))
                stack.append(("predicate", len(predicates) - 1))
            elif value == "(" and following is not None and following.lastgroup == "word":
                if roots is not None and not any(f[0] == "node" for f in stack):
                    roots = None if following.group() == "_" else roots | {following.group()}
                stack.append(("node", following.group()))
            else:
                stack.append(("group", None))
            last = None
        elif kind == "close":
            if not stack:
                continue
            frame = stack.pop()
            depth = sum(1 for f in stack if f[0] == "node")
            if frame[0] == "node":
                node_type = frame[1] if frame[1] != "_" else None
                last = (depth, node_type)  # type: ignore[assignment]
            elif frame[0] == "group":
                last = (depth, None)
            else:
                last = None
        elif kind == "capture":
            if in_predicate:
                predicates[stack[-1][1]][1].append(value)  # type: ignore[index]
            elif last is not None:
                captures.setdefault(value[1:], []).append(CaptureSite(*last))
        elif kind == "string":
            if in_predicate:
                predicates[stack[-1][1]][1].append(_unquote(value))
            else:  # an anonymous node: a leaf
                if not any(f[0] == "node" for f in stack):
                    roots = None
                last = (sum(1 for f in stack if f[0] == "node"), None)
        elif kind == "word" and not in_predicate:
            if stack and stack[-1][0] == "node" and tokens[position - 1].lastgroup == "open":
                continue  # the node type of the bracket just opened
            if not any(f[0] == "node" for f in stack):
                roots = None
            last = (sum(1 for f in stack if f[0] == "node"), None)  # `_` or a bare word
        elif kind in ("quantifier", "field", "negated", "anchor", "predicate"):
            continue
    return PatternText(frozenset(roots) if roots else None, captures, predicates)


def required_literals(pattern: str) -> tuple[tuple[str, ...], bool] | None:
    """Strings one of which every match of the regex contains, and whether the regex ignores
    case; None when no such short list can be read off the regex."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    found = _necessary(list(parsed))
    if not found or any(not literal for literal in found):
        return None
    return tuple(sorted(set(found))), ignore_case


def _necessary(items: list) -> list[str] | None:
    """Alternatives one of which any match of the sequence `items` contains (None: unknown)."""
    best: list[str] | None = None
    run = ""
    candidates: list[list[str]] = []
    for op, argument in items:
        if op is sre_constants.LITERAL:
            run += chr(argument)
            continue
        if op is sre_constants.IN and run and len(argument) <= 4 and all(
                kind is sre_constants.LITERAL for kind, _ in argument):
            candidates.append([run + chr(value) for _, value in argument])  # `:["']`: `:"` or `:'`
        if run:
            candidates.append([run])
            run = ""
        if op is sre_constants.SUBPATTERN:
            inner = _necessary(list(argument[-1]))
            if inner:
                candidates.append(inner)
        elif op is sre_constants.BRANCH:
            alternatives = [_necessary(list(branch)) for branch in argument[1]]
            if all(alternatives):
                candidates.append([literal for alternative in alternatives for literal in alternative])
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and argument[0] >= 1:
            inner = _necessary(list(argument[2]))
            if inner:
                candidates.append(inner)
        # anything else (classes, anchors, optional parts) requires nothing in particular
    if run:
        candidates.append([run])
    for candidate in candidates:
        if any(not literal for literal in candidate):
            continue
        if best is None or _selectivity(candidate) > _selectivity(best):
            best = candidate
    return best


def _selectivity(literals) -> tuple[int, int]:
    """Longer shortest literal first, then fewer literals: fewer occurrences to look at."""
    return min(len(literal) for literal in literals), -len(literals)


# -- planning a group's query -------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    literals: tuple[bytes, ...]
    exact: bool  # the captured node's text is the literal (else: contains it)
    ignore_case: bool
    node_type: str | None  # the captured node's type (needed when not exact)
    depths: frozenset[int]  # how far below the pattern's root the captured node can be
    roots: frozenset[str] | None  # the types the pattern's root can have (None: any)


def pattern_anchor(query: ts.Query, index: int, source: str) -> tuple[Anchor | None, tuple | None]:
    """The anchor of one pattern, or else the strings a unit must contain for it to match
    (None: no such strings are known)."""
    text = read_pattern(source)
    required = {
        query.capture_name(number)
        for number in range(query.capture_count)
        if _quantifier(query, index, number) in ("", "+") and query.capture_name(number) in text.captures
    }
    best: Anchor | None = None
    gate: tuple | None = None
    for name, arguments in text.predicates:
        if not arguments or not arguments[0].startswith("@"):
            continue
        capture = arguments[0][1:]
        values = arguments[1:]
        if capture not in required or not values or any(v.startswith("@") for v in values):
            continue
        sites = text.captures[capture]
        if name in _EXACT_PREDICATES:
            if any(not value for value in values):
                continue
            anchor = Anchor(tuple(v.encode() for v in values), True, False, None,
                            frozenset(site.depth for site in sites), text.roots)
        elif name in _CONTAINED_PREDICATES and len(values) == 1:
            literals = required_literals(values[0])
            if literals is None:
                continue
            strings, ignore_case = literals
            encoded = tuple(s.lower().encode() if ignore_case else s.encode() for s in strings)
            types = {site.node_type for site in sites}
            if len(types) != 1 or None in types:
                gate = gate or (encoded, ignore_case)
                continue
            anchor = Anchor(encoded, False, ignore_case, types.pop(), frozenset(site.depth for site in sites), text.roots)
        else:
            continue
        if best is None or _selectivity(anchor.literals) > _selectivity(best.literals):
            best = anchor
    return best, gate


def _quantifier(query: ts.Query, index: int, capture: int) -> str | None:
    """"" (exactly one), "?", "*" or "+"; None when the pattern lacks the capture (the binding
    raises for that case)."""
    try:
        return query.capture_quantifier(index, capture)
    except SystemError:
        return None


@lru_cache(maxsize=32)
def anchored_matcher(source: str) -> "AnchoredMatcher":
    """An AnchoredMatcher of `source`, compiled once per process (with a query of its own: the
    matcher switches its residual patterns off in it)."""
    return AnchoredMatcher(compile_query(source), source)


class AnchoredMatcher:
    """Finds the matches of one compiled query (many patterns) from their anchors."""

    def __init__(self, query: ts.Query, source: str) -> None:
        encoded = source.encode()
        self.query = query
        self.source = source
        anchored: list[int] = []
        residual: list[int] = []
        gates: list[tuple | None] = []
        # literal -> [(exact, node_type, depths, root types)] for case-sensitive and case-folded search
        self._sites: dict[bool, dict[bytes, list[tuple[bool, str | None, frozenset[int], frozenset[str] | None]]]] = {
            False: {}, True: {}}
        for index in range(query.pattern_count):
            pattern = encoded[query.start_byte_for_pattern(index) : query.end_byte_for_pattern(index)].decode()
            anchor, gate = pattern_anchor(query, index, pattern)
            if anchor is None:
                residual.append(index)
                gates.append(gate)
                continue
            anchored.append(index)
            table = self._sites[anchor.ignore_case]
            for literal in anchor.literals:
                site = (anchor.exact, anchor.node_type, anchor.depths, anchor.roots)
                if site not in table.get(literal, ()):
                    table.setdefault(literal, []).append(site)
        self.anchored = frozenset(anchored)
        self.residual = tuple(residual)
        # One search per case (case-folded literals are searched in a lower-cased copy). A
        # name an exact anchor equals is a whole token: no letter, digit or _ before it, nor
        # ?, ! after.
        self._multiline = any(b"\n" in literal for table in self._sites.values() for literal in table)
        self._search: list[tuple[LiteralSearch, bool]] = []
        for folded, table in self._sites.items():
            words = [lit for lit in table if _WORD.fullmatch(lit) and all(site[0] for site in table[lit])]
            others = [lit for lit in table if lit not in words]
            if words or others:
                self._search.append((LiteralSearch(words, others), folded))
        # Residual patterns run in a query of their own (compiled when first needed), over
        # the whole unit, unless every one of them needs a string the unit lacks.
        self._residual_gates = None if any(g is None for g in gates) else [g for g in gates if g is not None]
        self._residual_source = "\n".join(
            encoded[query.start_byte_for_pattern(i) : query.end_byte_for_pattern(i)].decode() for i in residual
        )
        self._residual_query: ts.Query | None = None
        for index in residual:  # the main query now runs the anchored patterns only
            query.disable_pattern(index)

    @property
    def residual_query(self) -> ts.Query | None:
        if self._residual_query is None and self.residual:
            self._residual_query = compile_query(self._residual_source)
        return self._residual_query

    def matches(
        self,
        node: ts.Node,
        data: bytes,
        pieces: list[tuple[int, int, bytes]] | None = None,
        hits_cache: dict[bytes, list] | None = None,
    ) -> list[tuple[int, dict[str, list[ts.Node]]]]:
        """Every match of the query rooted in `node`'s subtree (pattern index, captures).

        `pieces` are (start, end, bytes) of nodes inside `node` (a module's members) whose
        occurrences of the anchors are kept in `hits_cache` by their bytes: after an edit,
        only the edited member and the text between members are searched again. (No anchor
        occurrence that can start a match crosses a member's edge: the node whose text holds
        it would have to hold both sides.)"""
        found: list[tuple[int, int, int, dict[str, list[ts.Node]]]] = []
        roots = self._roots(node, self._hits(node, data, pieces, hits_cache))
        if roots:
            cursor = ts.QueryCursor(self.query)
            cursor.set_max_start_depth(0)
            for root in roots:
                for index, captures in cursor.matches(root):
                    found.append((root.start_byte, -root.end_byte, index, captures))
        if self.residual and self._residual_needed(node, data):
            for index, captures in ts.QueryCursor(self.residual_query).matches(node):
                root = min((n for nodes in captures.values() for n in nodes), key=lambda n: n.start_byte, default=node)
                found.append((root.start_byte, -node.end_byte, self.residual[index], captures))
        found.sort(key=lambda item: (item[0], item[1], item[2]))
        return [(index, captures) for _, _, index, captures in found]

    def _hits(self, node: ts.Node, data: bytes, pieces, hits_cache) -> list[tuple[int, int, list]]:
        """(start, end, sites) of every occurrence of an anchor in `node`'s text."""
        start, end = node.start_byte, node.end_byte
        if not pieces or hits_cache is None:
            return self._scan(data[start:end], start)
        missing = [key for _start, _end, key in pieces if key not in hits_cache]
        if len(missing) > 8:
            # Mostly new members (a file just opened): one search of the whole text, its
            # occurrences shared out to the members (an anchor's occurrence lies inside the
            # node it names, so inside one member or between members).
            hits = self._scan(data[start:end], start)
            starts = [piece_start for piece_start, _end, _key in pieces]
            shared: dict[int, list] = {}
            for low, high, sites in hits:
                slot = bisect_right(starts, low) - 1
                if slot >= 0 and high <= pieces[slot][1]:
                    shared.setdefault(slot, []).append((low - starts[slot], high - starts[slot], sites))
            for slot, (_start, _end, key) in enumerate(pieces):
                if key not in hits_cache:
                    hits_cache[key] = shared.get(slot, [])
            return hits
        hits = []
        position = start
        for piece_start, piece_end, key in pieces:
            if piece_start > position:
                gap = data[position:piece_start]
                if not gap.isspace():  # mostly blank lines between members: nothing to find
                    hits.extend(self._scan(gap, position))
            relative = hits_cache.get(key)
            if relative is None:
                relative = hits_cache[key] = self._scan_member(key, hits_cache)
            hits.extend((low + piece_start, high + piece_start, sites) for low, high, sites in relative)
            position = piece_end
        if position < end:
            hits.extend(self._scan(data[position:end], position))
        return hits

    def _scan_member(self, text: bytes, hits_cache: dict[bytes, list]) -> list[tuple[int, int, list]]:
        """Occurrences in one member's bytes, relative to its start. A big member (a def that
        holds a long data literal) is searched in chunks of whole lines, each remembered by its
        bytes: an edit inside it searches again only the chunk it touched. No anchor holds a
        line break, so none crosses a chunk's edge."""
        if len(text) < _CHUNKED_SEARCH or self._multiline:
            return self._scan(text, 0)
        hits = []
        for start, chunk in _line_chunks(text):
            relative = hits_cache.get(chunk)
            if relative is None:
                relative = hits_cache[chunk] = self._scan(chunk, 0)
            hits.extend((low + start, high + start, sites) for low, high, sites in relative)
        return hits

    def _scan(self, text: bytes, offset: int) -> list[tuple[int, int, list]]:
        hits = []
        for search, folded in self._search:
            table = self._sites[folded]
            for low, high, literal in search.find(text.lower() if folded else text):
                hits.append((low + offset, high + offset, table[literal]))
        return hits

    def _residual_needed(self, node: ts.Node, data: bytes) -> bool:
        if self._residual_gates is None:
            return True
        text = data[node.start_byte : node.end_byte]
        folded = None
        for literals, ignore_case in self._residual_gates:
            if ignore_case:
                folded = folded if folded is not None else text.lower()
                if any(literal in folded for literal in literals):
                    return True
            elif any(literal in text for literal in literals):
                return True
        return False

    def _roots(self, node: ts.Node, hits: list[tuple[int, int, list]]) -> list[ts.Node]:
        """The nodes at which an anchored pattern could start a match, in document order."""
        seen: set[int] = set()
        roots: list[ts.Node] = []
        for low, high, sites in hits:
            path = _path_to(node, low, high)
            for exact, node_type, depths, types in sites:
                for level in _captured_levels(path, low, high, exact, node_type):
                    for depth in depths:
                        if depth <= level:
                            root = path[level - depth]
                            if (types is None or root.type in types) and root.id not in seen:
                                seen.add(root.id)
                                roots.append(root)
        roots.sort(key=lambda n: (n.start_byte, -n.end_byte))
        return roots


_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_.]*[?!]?")
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_AFTER_A_NAME = _WORD_BYTES | frozenset(b"?!")


class LiteralSearch:
    """Every occurrence of some literals in a text, as a regex search for
    `\b(?:WORDS)(?![A-Za-z0-9_?!])|(?:OTHERS)` finds them: leftmost first, the longest of those
    starting at one place (a word before any other literal), none overlapping the one before.

    `words` (names: whole tokens only) and `others` (found anywhere) are searched together by
    one Aho-Corasick automaton, at C speed: Python's regex engine walked an alternation of a
    hundred names at 10 MB/s, as slow as parsing the text."""

    def __init__(self, words: list[bytes], others: list[bytes]) -> None:
        self.literals = [*words, *others]
        self.words = len(words)
        self._automaton = ahocorasick_rs.BytesAhoCorasick(self.literals)

    def find(self, text: bytes) -> list[tuple[int, int, bytes]]:
        """(start, end, literal) of each occurrence, in order."""
        candidates = []
        size = len(text)
        words = self.words
        for index, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True):
            word = index < words
            if word and ((start and text[start - 1] in _WORD_BYTES) or (end < size and text[end] in _AFTER_A_NAME)):
                continue  # part of a longer name
            candidates.append((start, not word, start - end, end, index))
        candidates.sort()
        found = []
        reached = 0
        for start, _other, _length, end, index in candidates:
            if start >= reached:
                found.append((start, end, self.literals[index]))
                reached = end
        return found
# Members this big are searched in chunks (see AnchoredMatcher._scan_member); the regex search
# costs about 0.1 ms per kilobyte.
_CHUNKED_SEARCH = 16384
_CHUNK_MIN = 2048


def _line_chunks(text: bytes) -> list[tuple[int, bytes]]:
    """`text` cut into runs of whole lines (each with its line break), with their offsets.

    Each cut is the first line break at least _CHUNK_MIN bytes after the previous cut. An edit
    shifts that threshold by its length, which moves the cut only when a line break lies in
    between: the chunks after the one it falls in keep their bytes (and their cached search)."""
    chunks = []
    start = 0
    size = len(text)
    while start < size:
        cut = text.find(b"\n", start + _CHUNK_MIN)
        end = size if cut < 0 else cut + 1
        chunks.append((start, text[start:end]))
        start = end
    return chunks


def _path_to(node: ts.Node, low: int, high: int) -> list[ts.Node]:
    """`node` and its descendants containing bytes [low, high), outermost first."""
    path = [node]
    cursor = node.walk()
    while cursor.goto_first_child_for_byte(low) is not None:
        child = cursor.node
        if child is None or child.start_byte > low or child.end_byte < high:
            break
        path.append(child)
    return path


def _captured_levels(path: list[ts.Node], low: int, high: int, exact: bool, node_type: str | None) -> Iterator[int]:
    """Positions in `path` of the nodes a pattern could have captured for an occurrence."""
    for level in range(len(path) - 1, -1, -1):
        candidate = path[level]
        if exact:
            if candidate.start_byte != low or candidate.end_byte != high:
                return  # outer nodes are larger still
            yield level
        elif candidate.type == node_type:
            yield level
