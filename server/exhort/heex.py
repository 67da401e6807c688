"""Exhort's own tolerant HEEx reader (no vendored grammar).

Reads `~H` sigil bodies and `.html.heex` files into a small tree of elements, expressions,
EEx tags and comments, each with exact byte offsets in the *file* (a sigil body is read in
place, inside the whole `.ex` file's bytes). Half-typed input gives a best-effort tree and
never raises: unclosed tags end where the text that closed them begins, stray end tags are
ignored, an unterminated `{...}` or `<%= ...` runs to the end of the template.

    for template in templates_of(document):
        for element in template.elements():
            element.attr("phx-update")

The Elixir code inside `{...}` and `<% %>` is raw text; `parse_code(data, start, end)`
parses a range of it with tree-sitter-elixir in file coordinates (`included_ranges`), so
every node keeps its position in the file.
"""

from __future__ import annotations

import gc
import re
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator

import tree_sitter as ts

from .parsing import ELIXIR

if TYPE_CHECKING:
    from .document import Document

VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param", "source",
     "track", "wbr"}
)
RAW_TEXT_TAGS = frozenset({"script", "style"})
_RAW_TEXT_NAMES = frozenset(
    "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(name))
    for name in RAW_TEXT_TAGS for mask in range(1 << len(name))
)
SPECIAL_ATTRIBUTES = frozenset({":for", ":if", ":let", ":key"})

# -- the tree ------------------------------------------------------------------------------


# Plain classes with __slots__ and a short positional __init__: a template builds thousands of
# these, and a dataclass's keyword defaults and default factories cost about twice as much each.


class Attribute:
    """`name="v"`, `name={expr}`, bare `name`, or a root spread `{@rest}` (kind "spread")."""

    __slots__ = ("name", "kind", "start", "end", "name_start", "name_end", "value_start", "value_end", "_data")

    def __init__(self, data: bytes, name: str, kind: str, start: int, end: int, name_start: int, name_end: int,
                 value_start: int = -1, value_end: int = -1) -> None:
        self._data = data
        self.name = name
        self.kind = kind  # "string", "expr", "bare", "spread"
        self.start = start
        self.end = end
        self.name_start = name_start
        self.name_end = name_end
        self.value_start = value_start  # content range: inside the quotes or braces
        self.value_end = value_end

    def __repr__(self) -> str:
        return f"<Attribute {self.kind} {self.name!r} {self.start}-{self.end}>"

    @property
    def value(self) -> str | None:
        """The string content, or the expression text (None for a bare name).

        Decoded on access: rules read the values of a few attributes, the reader sees them all."""
        if self.kind == "bare":
            return None
        return self._data[self.value_start : self.value_end].decode("utf-8", "replace")

    @property
    def special(self) -> bool:
        return self.name in SPECIAL_ATTRIBUTES


class HNode:
    """One node of a template. kind is one of:

    - "tag" (`<div>`), "component" (`<.link>`, `<MyApp.C.badge>`), "slot" (`<:col>`): Elements;
    - "expr": a `{...}` body expression (code_start/code_end inside the braces);
    - "eex": a `<%= %>` / `<% %>` tag that opens no block;
    - "eex_block": `<%= for ... do %> ... <% end %>`: the head's code, its children, and the
      middle clauses (`<% else %>`, `<% pattern -> %>`) in `clauses`;
    - "comment": `<!-- -->`, `<%!-- --%>` or `<%# %>`.
    """

    __slots__ = ("kind", "start", "end", "parent", "children", "name", "name_start", "name_end", "attrs",
                 "start_tag_end", "self_closing", "closed", "end_tag_start", "code_start", "code_end", "output",
                 "end_directive", "clauses", "no_curly")

    def __init__(self, kind: str, start: int, end: int, parent: "HNode | None" = None) -> None:
        self.kind = kind
        self.start = start
        self.end = end
        self.parent = parent
        self.children: list[HNode] = []
        # elements
        self.name = ""
        self.name_start = -1
        self.name_end = -1
        self.attrs: list[Attribute] = []
        self.start_tag_end = -1
        self.self_closing = False
        self.closed = False  # an end tag was found (or self-closing / void)
        self.end_tag_start = -1
        # expressions and EEx
        self.code_start = -1
        self.code_end = -1
        self.output = False  # `<%=` rather than `<%`
        self.end_directive: tuple[int, int] | None = None  # `<% end %>` range of an eex_block
        # (start, end, code_start, code_end); an empty tuple until the first clause (most nodes have none)
        self.clauses: list[tuple[int, int, int, int]] | tuple[()] = ()
        self.no_curly = False  # inside phx-no-curly-interpolation: `{` is text

    def __repr__(self) -> str:
        label = self.name or self.kind
        return f"<HNode {self.kind} {label!r} {self.start}-{self.end}>"

    @property
    def is_element(self) -> bool:
        return self.kind in ("tag", "component", "slot")

    def attr(self, name: str) -> Attribute | None:
        for attribute in self.attrs:
            if attribute.name == name:
                return attribute
        return None

    def has_spread(self) -> bool:
        return any(a.kind == "spread" for a in self.attrs)

    def walk(self) -> Iterator["HNode"]:
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def ancestors(self) -> Iterator["HNode"]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def element_children(self) -> list["HNode"]:
        """Child elements, looking through EEx blocks (which create no DOM node)."""
        out = []
        for child in self.children:
            if child.is_element:
                out.append(child)
            elif child.kind == "eex_block":
                out.extend(child.element_children())
        return out


class Template:
    """A template read from data[start:end]. `sigil` is the Elixir sigil node for `~H`."""

    def __init__(self, data: bytes, start: int, end: int, sigil: ts.Node | None = None) -> None:
        self.data = data
        self.start = start
        self.end = end
        self.sigil = sigil
        self.root = HNode("fragment", start, end)
        # The tree is thousands of small linked objects: pausing the cyclic collector while they
        # are built saves about an eighth of the time on large templates (nothing is freed here).
        collecting = gc.isenabled()
        if collecting:
            gc.disable()
        try:
            _Reader(data, start, end, self.root).read()
        finally:
            if collecting:
                gc.enable()

    def nodes(self) -> Iterator[HNode]:
        return self.root.walk()

    def elements(self) -> Iterator[HNode]:
        return (n for n in self.root.walk() if n.is_element)

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")

    def code_ranges(self) -> Iterator[tuple[HNode, Attribute | None, int, int]]:
        """Every range of Elixir code: (node, attribute or None, start, end)."""
        for node in self.nodes():
            if node.kind in ("expr", "eex", "eex_block"):
                yield node, None, node.code_start, node.code_end
                for _s, _e, code_start, code_end in node.clauses:
                    yield node, None, code_start, code_end
            elif node.is_element:
                for attribute in node.attrs:
                    if attribute.kind in ("expr", "spread"):
                        yield node, attribute, attribute.value_start, attribute.value_end


def read(data: bytes | str, start: int = 0, end: int | None = None) -> Template:
    """Read the HEEx in data[start:end] (the whole of `data` by default)."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogateescape")
    end = len(data) if end is None else min(end, len(data))
    return Template(data, max(0, start), max(start, end))


# -- the reader ----------------------------------------------------------------------------

# The common shapes of the Elixir code inside `{...}`, read by one regex exactly as skip_nested_code
# reads them: names, strings and charlists (with plain `#{...}` interpolation), sigils, one level of
# nested braces (`%{id: 1}`, `{id, row} <- @rows`). Code of any other shape (comments, heredocs,
# character literals, deeper nesting) fails to match and is left to skip_nested_code.
_PLAIN_CODE = rb"[^{}\"'#?~\\]++"  # bytes that mean nothing to skip_nested_code
_NAME_QUESTION = rb"(?<=[A-Za-z0-9_?!])\?"  # `?` ending a name (`@open?`), not a character literal
_ESCAPE = rb"\\[\s\S]"


def _quoted(quote: bytes, interpolated: bytes | None) -> bytes:
    """A string or charlist (not a heredoc) whose `#{...}` hold `interpolated` code (with None: no `#{`)."""
    interpolation = rb"|#\{" + interpolated + rb"\}" if interpolated else b""
    return (quote + b"(?!" + quote * 2 + b")(?:[^" + quote + rb"\\#]++|" + _ESCAPE + rb"|#(?!\{)" + interpolation
            + b")*+" + quote)


def _delimited(opener: bytes, closer: bytes) -> bytes:
    """A sigil's body between delimiters that are not quotes (no interpolation, no nesting)."""
    return re.escape(opener) + b"(?:[^" + re.escape(opener + closer) + rb"\\]++|" + _ESCAPE + b")*+" + re.escape(closer)


_UNINTERPOLATED_STRINGS = (_quoted(b'"', None), _quoted(b"'", None))
_INTERPOLATED_CODE = b"(?:" + b"|".join((_PLAIN_CODE, _NAME_QUESTION, *_UNINTERPOLATED_STRINGS)) + b")*+"
_STRING = _quoted(b'"', _INTERPOLATED_CODE) + b"|" + _quoted(b"'", _INTERPOLATED_CODE)
_SIGIL_DELIMITERS = ((b"/", b"/"), (b"|", b"|"), (b"(", b")"), (b"[", b"]"), (b"{", b"}"), (b"<", b">"))
_SIGIL = (rb"~[A-Za-z]++(?:" + _STRING + b"|" + b"|".join(_delimited(*pair) for pair in _SIGIL_DELIMITERS)
          + b")")
_CODE_ITEM = b"|".join((_PLAIN_CODE, _NAME_QUESTION, _STRING, _SIGIL))
_SIMPLE_CODE_BODY = b"(?:" + _CODE_ITEM + rb"|\{(?:" + _CODE_ITEM + rb")*+\})*+"

_NAME_BYTE = rb"[^\s/>{}\"'=<]"  # of a tag or attribute name
_NAME = re.compile(_NAME_BYTE + rb"+")
# Text and the markup that ends it, in one match. Groups: 1 a `{` (2 its `}` when the code has one of
# the common shapes), 3 a start tag's name, 4 an end tag's name (`</name ...>`), 5 the `<%` of an EEx
# tag, 6 any other `<` (comments, doctype, a half-typed end tag, text); none at the end of the
# template.
_MARKUP = re.compile(
    rb"[^<{]*+(?:(\{)(?:" + _SIMPLE_CODE_BODY + rb"(\}))?|<([A-Za-z.:_]" + _NAME_BYTE + rb"*+)|</(" + _NAME_BYTE
    + rb"*+)[^<>]*+>|(<%)(?=[^!#%])|(<))?"
)
_SPACE = re.compile(rb"\s*")
# One start-tag token after optional space. Groups: 1 name (2 its "value" | 3 its `={`, 4 the `}`
# closing code of one of the common shapes), 5 `>`, 6 `/>`, 7 a `{` spread, 8 `<`, 9 a stray `/`,
# quote, `=` or `}`.
_ATTR_TOKEN = re.compile(
    rb"\s*+(?:(" + _NAME_BYTE + rb"++)(?:\s*+=\s*+(?:\"([^\"]*+)\"|(\{)(?:" + _SIMPLE_CODE_BODY + rb"(\}))?))?"
    rb"|(>)|(/>)|(\{)|(<)|([/\"'=}]))"
)
_BARE_VALUE = re.compile(rb"[^\s>]+")
# Code up to the next byte that matters to skip_nested_code, and that byte. Groups: 1 `{`, 2 `}`, 3 a
# quote opening a string or charlist with escapes, interpolation or no end (or a heredoc), 4 a
# backslash, 5 `?`, 6 `#`, 7 `~`; none when a plain string or charlist was read whole.
_CODE_TOKEN = re.compile(
    rb"[^{}\"'#?~\\]*+(?:(\{)|(\})|\"(?!\"\")[^\"\\#]*+\"|'(?!'')[^'\\#]*+'|([\"'])|(\\)|(\?)|(#)|(~))"
)
_SIMPLE_CODE = re.compile(_SIMPLE_CODE_BODY + rb"\}")


class _Reader:
    """Reads data[start:end] into root. Each step takes the position to read at and returns the next one."""

    def __init__(self, data: bytes, start: int, end: int, root: HNode) -> None:
        self.data = data
        self.start = start
        self.end = end
        self.root = root
        self.stack: list[HNode] = [root]

    # -- driver
    def read(self) -> None:
        data, end, stack = self.data, self.end, self.stack
        markup = _MARKUP.match
        pos = self.start
        while pos < end:
            top = stack[-1]
            if top.name in _RAW_TEXT_NAMES and top.kind == "tag" and not top.closed:
                pos = self._raw_text(top, pos)
                continue
            if top.no_curly:  # `{` is text here: go to the next `<`
                pos = data.find(b"<", pos, end)
                if pos < 0:
                    break
            found = markup(data, pos, end)
            group = found.lastindex
            if group == 3:  # the common case: a start tag
                pos = self._start_tag(found)
            elif group == 4:
                pos = found.end()
                self._end_tag(found.start(4) - 2, found.group(4).decode("utf-8", "replace"), pos)
            elif group == 2 or group == 1:  # `{...}`
                at = found.start(1)
                close = found.start(2) if group == 2 else skip_nested_code(data, at + 1, end)
                pos = min(close + 1, end)
                node = HNode("expr", at, pos, top)
                node.code_start, node.code_end = at + 1, close
                top.children.append(node)
            elif group == 5:
                pos = self._eex(found.start(5))
            elif group == 6:
                pos = self._angle(found.start(6))
            else:  # only text left
                break
        for node in stack[1:]:
            _close(node, end, False)
        self.stack = [self.root]

    def _add(self, node: HNode) -> None:
        parent = self.stack[-1]
        node.parent = parent
        parent.children.append(node)

    # -- `<`
    def _angle(self, at: int) -> int:
        """A `<` that starts no tag: a comment, `<%%`, a doctype, a half-typed end tag, text, or an EEx
        tag cut by the end of the template."""
        data, end = self.data, self.end
        following = data[at + 1 : at + 2]
        if following == b"/":
            return self._half_typed_end_tag(at)
        if following == b"%":
            if data.startswith(b"<%!--", at):
                close = data.find(b"--%>", at + 5, end)
                stop = end if close < 0 else close + 4
                self._add(HNode("comment", at, stop))
                return stop
            if data.startswith(b"<%#", at):
                close = data.find(b"%>", at + 3, end)
                stop = end if close < 0 else close + 2
                self._add(HNode("comment", at, stop))
                return stop
            if data.startswith(b"<%%", at):  # escaped literal `<%`
                return at + 3
            return self._eex(at)
        if following == b"!":
            if data.startswith(b"<!--", at):
                close = data.find(b"-->", at + 4, end)
                stop = end if close < 0 else close + 3
                self._add(HNode("comment", at, stop))
                return stop
            close = data.find(b">", at, end)  # doctype
            return end if close < 0 else close + 1
        return at + 1

    def _eex(self, at: int) -> int:
        data, end, stack = self.data, self.end, self.stack
        output = data.startswith(b"<%=", at)
        code_start = at + (3 if output else 2)
        close = data.find(b"%>", code_start, end)
        code_end = end if close < 0 else close
        stop = end if close < 0 else close + 2
        code = data[code_start:code_end].strip()
        kind = eex_kind(code)
        if kind == "end":
            block = self._innermost_block()
            if block is None:
                self._add(_eex_node("eex", at, stop, code_start, code_end, output))
                return stop
            while stack[-1] is not block:
                _close(stack.pop(), at, False)
            stack.pop()
            block.end_directive = (at, stop)
            _close(block, stop, True)
            return stop
        if kind == "middle":
            block = self._innermost_block()
            if block is not None:
                while stack[-1] is not block:
                    _close(stack.pop(), at, False)
                if not block.clauses:
                    block.clauses = []
                block.clauses.append((at, stop, code_start, code_end))
                return stop
            self._add(_eex_node("eex", at, stop, code_start, code_end, output))
            return stop
        node = _eex_node("eex_block" if kind == "start" else "eex", at, stop, code_start, code_end, output)
        self._add(node)
        if kind == "start":
            node.start_tag_end = stop
            stack.append(node)
        return stop

    def _innermost_block(self) -> HNode | None:
        for node in reversed(self.stack):
            if node.kind == "eex_block":
                return node
        return None

    def _half_typed_end_tag(self, at: int) -> int:
        """`</name` with no `>` before the next markup: the name ends it."""
        match = _NAME.match(self.data, at + 2, self.end)
        name = match.group().decode("utf-8", "replace") if match else ""
        stop = match.end() if match else at + 2
        self._end_tag(at, name, stop)
        return stop

    def _end_tag(self, at: int, name: str, stop: int) -> None:
        """Close the nearest open element of that name, without crossing an EEx block."""
        stack = self.stack
        for node in reversed(stack):
            if node.kind == "eex_block" or node is self.root:
                return
            if node.name == name:
                while (inner := stack.pop()) is not node:
                    _close(inner, at, False)
                node.end_tag_start = at
                _close(node, stop, True)
                return

    def _start_tag(self, found: "re.Match[bytes]") -> int:
        """The start tag whose name is group 3 of a _MARKUP match."""
        data, end = self.data, self.end
        name_start, pos = found.span(3)
        at = name_start - 1
        name = data[name_start:pos].decode("utf-8", "replace")
        first = name[0]
        if first == ".":
            kind = "component"
        elif first == ":":
            kind = "slot"
        elif first.isupper() and "." in name:
            kind = "component"
        else:
            kind = "tag"
        node = HNode(kind, at, end)
        node.name, node.name_start, node.name_end = name, name_start, pos
        attrs = node.attrs
        finished = False
        token = _ATTR_TOKEN.match
        while pos < end:
            if data[pos] == 62:  # `>` right after the name or a value (the common end): no regex needed
                pos += 1
                finished = True
                break
            found = token(data, pos, end)
            if found is None:  # only space left
                pos = end
                break
            group = found.lastindex
            if group == 2:  # name="value": the common case
                name_start, name_end = found.span(1)
                pos = found.end()
                attrs.append(Attribute(data, data[name_start:name_end].decode("utf-8", "replace"), "string",
                                       name_start, pos, name_start, name_end, found.start(2), pos - 1))
                continue
            if group == 5:  # `>`
                pos = found.end()
                finished = True
                break
            if group == 4 or group == 3:  # name={...}
                name_start, name_end = found.span(1)
                value_start = found.end(3)
                close = found.start(4) if group == 4 else skip_nested_code(data, value_start, end)
                pos = min(close + 1, end)
                attrs.append(Attribute(data, data[name_start:name_end].decode("utf-8", "replace"), "expr",
                                       name_start, pos, name_start, name_end, value_start, close))
                continue
            if group == 1:  # a name, maybe with a value the slow path reads
                name_start, name_end = found.span(1)
                attribute = Attribute(data, data[name_start:name_end].decode("utf-8", "replace"), "bare",
                                      name_start, name_end, name_start, name_end)
                attrs.append(attribute)
                pos = self._attr_value(attribute, name_end)
                continue
            pos = found.end()
            if group == 6:  # `/>`
                node.self_closing = True
                finished = True
                break
            if group == 7:  # `{...}` spread
                close = skip_code(data, pos, end)
                stop = min(close + 1, end)
                attrs.append(Attribute(data, "", "spread", pos - 1, stop, pos - 1, pos - 1, pos, close))
                pos = stop
                continue
            if group == 8:  # half-typed tag: the next markup starts at `<`
                pos -= 1
                break
            # group 9: a stray `/`, quote, `=` or `}`: skip it
        node.start_tag_end = pos
        parent = self.stack[-1]
        node.parent = parent
        parent.children.append(node)
        lower = name.lower() if kind == "tag" else ""
        if node.self_closing or lower in VOID_TAGS:
            node.closed = True
            node.end = pos
            return pos
        if not finished:  # unterminated start tag: no children
            node.end = pos
            return pos
        node.no_curly = parent.no_curly or (
            data.find(b"phx-no-curly-interpolation", at, pos) >= 0 and node.attr("phx-no-curly-interpolation") is not None
        )
        self.stack.append(node)
        if lower in RAW_TEXT_TAGS:
            return self._raw_text(node, pos)
        return pos

    def _attr_value(self, attribute: Attribute, pos: int) -> int:
        """After an attribute's name: an optional `= value` (the less common shapes)."""
        data, end = self.data, self.end
        after = _SPACE.match(data, pos, end).end()
        if after >= end or data[after] != 61:  # no `=` (a `=` just past the end of a range is not ours)
            return pos
        pos = _SPACE.match(data, after + 1, end).end()
        quote = data[pos : pos + 1]
        if quote in (b'"', b"'"):
            close = data.find(quote, pos + 1, end)
            stop = end if close < 0 else close + 1
            attribute.kind = "string"
            attribute.value_start, attribute.value_end = pos + 1, (end if close < 0 else close)
            attribute.end = pos = stop
        elif quote == b"{":
            close = skip_code(data, pos + 1, end)
            attribute.kind = "expr"
            attribute.value_start, attribute.value_end = pos + 1, close
            attribute.end = pos = min(close + 1, end)
        else:
            bare = _BARE_VALUE.match(data, pos, end)
            if bare is not None and not data.startswith(b"/>", pos):
                attribute.kind = "string"
                attribute.value_start, attribute.value_end = bare.start(), bare.end()
                attribute.end = pos = bare.end()
        return pos

    def _raw_text(self, node: HNode, pos: int) -> int:
        """Inside <script>/<style>: only `</name` ends the text (and `<%= %>` still counts)."""
        data, end = self.data, self.end
        pattern = re.compile(rb"</(" + re.escape(node.name.encode()) + rb")\s*>|<%", re.I)
        while True:
            match = pattern.search(data, pos, end)
            if match is None:
                return end
            if match.lastindex is None:  # `<%`
                pos = self._eex(match.start())
                if self.stack[-1] is not node:
                    return pos
                continue
            self._end_tag(match.start(), match.group(1).decode("utf-8", "replace"), match.end())
            return match.end()


def _close(node: HNode, end: int, closed: bool) -> None:
    node.end = max(end, node.start_tag_end if node.start_tag_end > 0 else node.start)
    node.closed = closed


def _eex_node(kind: str, start: int, end: int, code_start: int, code_end: int, output: bool) -> HNode:
    node = HNode(kind, start, end)
    node.code_start, node.code_end, node.output = code_start, code_end, output
    return node


def eex_kind(code: bytes) -> str:
    """'start' (opens a do block), 'middle' (else / clause), 'end' or 'plain'."""
    if code.startswith(b"end") and (len(code) == 3 or not (code[3:4].isalnum() or code[3:4] in b"_?!")):
        return "end"
    if code in (b"else", b"after", b"rescue", b"catch"):
        return "middle"
    if code.endswith(b"->"):
        return "start" if re.search(rb"\bfn\b", code) else "middle"
    if code.endswith(b"do") and (len(code) == 2 or not (code[-3:-2].isalnum() or code[-3:-2] in b"_?!:.")):
        return "start"
    return "plain"


def skip_code(data: bytes, pos: int, end: int) -> int:
    """Index of the `}` closing the Elixir code that starts at `pos` (end if none).

    Tracks nested braces, strings and charlists (with `#{}` interpolation and heredocs),
    sigils, character literals (`?{`) and comments.
    """
    simple = _SIMPLE_CODE.match(data, pos, end)
    if simple is not None:  # the common case: code of one of the common shapes
        return simple.end() - 1
    return skip_nested_code(data, pos, end)


def skip_nested_code(data: bytes, pos: int, end: int) -> int:
    """skip_code for code of any shape: nested braces and strings, heredocs, comments, `?{`..."""
    stack: list[tuple[str, bytes]] = []  # ("code", b"") frames and ("str", terminator) frames
    depth = [0]
    token = _CODE_TOKEN.match
    while pos < end:
        if stack and stack[-1][0] == "str":
            terminator = stack[-1][1]
            # Jump from one character that can matter in a string to the next: a backslash,
            # `#` (of `#{`) or the terminator's first byte.
            in_string = _string_special(terminator).search
            index = pos
            while True:
                found = in_string(data, index, end)
                if found is None:
                    index = end
                    break
                index = found.start()
                char = data[index]
                if char == 92:  # backslash: skip the escaped character
                    index += 2
                    continue
                if char == 35:  # `#`
                    if data[index + 1 : index + 2] == b"{":
                        stack.append(("code", b""))
                        depth.append(0)
                        index += 2
                        break
                    if terminator[0] != 35:
                        index += 1
                        continue
                if data.startswith(terminator, index):
                    stack.pop()
                    index += len(terminator)
                    break
                index += 1
            pos = index
            continue
        found = token(data, pos, end)
        if found is None:
            return end
        pos = found.end()
        group = found.lastindex
        if group is None:  # a string with no escapes or interpolation
            continue
        at = pos - 1
        if group == 1:  # `{`
            depth[-1] += 1
        elif group == 2:  # `}`
            if depth[-1] == 0:
                if not stack:
                    return at
                stack.pop()  # end of an interpolation
                depth.pop()
                continue
            depth[-1] -= 1
        elif group == 3:  # a quote
            char = data[at : at + 1]
            triple = char * 3
            if data.startswith(triple, at):
                stack.append(("str", triple))
                pos = at + 3
            else:
                stack.append(("str", char))
        elif group == 4:  # backslash
            pos = at + 2
        elif group == 5:  # `?`
            previous = data[at - 1 : at] if at > 0 else b" "
            if not (previous.isalnum() or previous in b"_?!"):
                pos = at + (3 if data[at + 1 : at + 2] == b"\\" else 2)
        elif group == 6:  # `#`: a comment
            newline = data.find(b"\n", at, end)
            if newline < 0:
                return end
            pos = newline + 1
        else:  # `~`
            pos = _skip_sigil(data, at, end, stack, depth)
    return end


@lru_cache(maxsize=None)
def _string_special(terminator: bytes) -> "re.Pattern[bytes]":
    return re.compile(b"[\\\\#" + re.escape(terminator[:1]) + b"]")


_SIGIL_PAIRS = {b"(": b")", b"[": b"]", b"{": b"}", b"<": b">"}


def _skip_sigil(data: bytes, at: int, end: int, stack: list, depth: list) -> int:
    index = at + 1
    while index < end and data[index : index + 1].isalpha():
        index += 1
    if index == at + 1 or index >= end:
        return at + 1
    opener = data[index : index + 1]
    if opener in (b'"', b"'"):
        triple = opener * 3
        if data.startswith(triple, index):
            stack.append(("str", triple))
            return index + 3
        stack.append(("str", opener))
        return index + 1
    if opener in (b"/", b"|"):
        scan = index + 1
        while scan < end:
            char = data[scan : scan + 1]
            if char == b"\\":
                scan += 2
                continue
            if char == opener:
                return scan + 1
            scan += 1
        return end
    closer = _SIGIL_PAIRS.get(opener)
    if closer is None:
        return at + 1
    level = 0
    scan = index + 1
    while scan < end:
        char = data[scan : scan + 1]
        if char == b"\\":
            scan += 2
            continue
        if char == opener:
            level += 1
        elif char == closer:
            if level == 0:
                return scan + 1
            level -= 1
        scan += 1
    return end


def split_top_level(data: bytes, start: int, end: int, separator: bytes = b",") -> list[tuple[int, int]]:
    """Split data[start:end] at top-level separators (outside brackets and strings)."""
    parts: list[tuple[int, int]] = []
    level = 0
    part_start = start
    pos = start
    openers, closers = b"([{", b")]}"
    while pos < end:
        char = data[pos : pos + 1]
        if char in (b'"', b"'"):
            pos = _skip_string(data, pos, end)
            continue
        if char == b"~":
            pos = max(_skip_sigil(data, pos, end, [], [0]), pos + 1)
            continue
        if char == b"?" and pos + 1 < end:
            previous = data[pos - 1 : pos] if pos > start else b" "
            if not (previous.isalnum() or previous in b"_?!"):
                pos += 2
                continue
        if char in openers:
            level += 1
        elif char in closers:
            level -= 1
        elif char == separator and level == 0:
            parts.append((part_start, pos))
            part_start = pos + 1
        pos += 1
    parts.append((part_start, end))
    return parts


def _skip_string(data: bytes, pos: int, end: int) -> int:
    quote = data[pos : pos + 1]
    terminator = quote * 3 if data.startswith(quote * 3, pos) else quote
    index = pos + len(terminator)
    level = 0
    while index < end:
        char = data[index : index + 1]
        if char == b"\\":
            index += 2
            continue
        if level == 0 and data.startswith(terminator, index):
            return index + len(terminator)
        if char == b"#" and data[index + 1 : index + 2] == b"{":
            level += 1
            index += 2
            continue
        if char == b"}" and level:
            level -= 1
        index += 1
    return end


# -- Elixir inside templates ---------------------------------------------------------------

_local = threading.local()


def _point(data: bytes, offset: int) -> tuple[int, int]:
    row = data.count(b"\n", 0, offset)
    line_start = data.rfind(b"\n", 0, offset) + 1
    return row, offset - line_start


def parse_code(data: bytes, start: int, end: int) -> ts.Node | None:
    """Parse data[start:end] as Elixir, in file coordinates. The `source` node, or None."""
    start, end = strip_range(data, start, end)
    if end <= start:
        return None
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = ts.Parser(ELIXIR)
    parser.included_ranges = [ts.Range(_point(data, start), _point(data, end), start, end)]
    try:
        return parser.parse(data).root_node
    finally:
        parser.included_ranges = [ts.Range((0, 0), (0xFFFFFFFF, 0xFFFFFFFF), 0, 0xFFFFFFFF)]


def strip_range(data: bytes, start: int, end: int) -> tuple[int, int]:
    while start < end and data[start : start + 1].isspace():
        start += 1
    while end > start and data[end - 1 : end].isspace():
        end -= 1
    return start, end


def head_code(data: bytes, node: HNode) -> tuple[int, int]:
    """The code of an EEx block's head without its trailing `do` / `->`."""
    start, end = strip_range(data, node.code_start, node.code_end)
    if data[start:end].endswith(b"do"):
        end -= 2
    elif data[start:end].endswith(b"->"):
        end -= 2
    return strip_range(data, start, end)


# -- templates of a document ---------------------------------------------------------------

_SIGIL_NAMES = (b"H",)
_cache: "OrderedDict[tuple[str, bytes], list[Template]]" = OrderedDict()
_cache_lock = threading.Lock()


def sigil_body(sigil: ts.Node) -> tuple[int, int] | None:
    """The content range of a sigil (between its delimiters)."""
    start = end = None
    for child in sigil.children:
        if child.type == "quoted_content":
            start = child.start_byte if start is None else start
            end = child.end_byte
    if start is not None:
        return start, end
    opening = sigil.child_by_field_name("quoted_start")
    closing = sigil.child_by_field_name("quoted_end")
    if opening is not None and closing is not None:
        return opening.end_byte, closing.start_byte
    return None


def heex_sigils(root: ts.Node) -> Iterator[ts.Node]:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "sigil":
            name = next((c for c in node.named_children if c.type == "sigil_name"), None)
            if name is not None and name.text in _SIGIL_NAMES:
                yield node
            continue
        stack.extend(reversed(node.named_children))


def templates_of(document: "Document") -> list[Template]:
    """Every template of a document: the whole file for .heex, each `~H` sigil otherwise."""
    key = (document.path, document.data)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    if document.language == "heex":
        found = [Template(document.data, 0, len(document.data))]
    elif document.tree is None or not any(b"~" + name in document.data for name in _SIGIL_NAMES):
        found = []  # no `~H` anywhere: skip walking the tree
    else:
        found = []
        for sigil in heex_sigils(document.tree.root_node):
            body = sigil_body(sigil)
            if body is not None:
                found.append(Template(document.data, body[0], body[1], sigil))
    with _cache_lock:
        _cache[key] = found
        while len(_cache) > 16:
            _cache.popitem(last=False)
    return found
