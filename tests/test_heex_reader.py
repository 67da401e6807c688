"""The HEEx reader: cross-checked against the tree-sitter-heex grammar (test-only dependency),
fuzzed with hypothesis, and checked on the shapes rules rely on."""

from __future__ import annotations

import pytest
import tree_sitter as ts
from hypothesis import given, settings
from hypothesis import strategies as st

from exhort import heex
from exhort.document import Document

language_pack = pytest.importorskip("tree_sitter_language_pack")
HEEX = language_pack.get_language("heex")

TEMPLATE = """<!DOCTYPE html>
<div id="items" phx-update="stream" class='a b' hidden>
  <div :for={{id, item} <- @streams.items} id={id} class="p-2">
    <%= item.name %> {item.title} {%{a: 1}}
    <.link navigate={~p"/items/#{item}"} phx-click={JS.push("x", value: %{id: item.id})}>Show</.link>
    <MyApp.Components.badge :if={item.new?} {@rest} />
    <img src={@src} alt="" />
    <br />
    <input type="text" value={@v} />
  </div>
</div>
<.table id="users" rows={@users}>
  <:col :let={user} label="Name">{user.name}</:col>
  <:action :let={u}><.button phx-click="go" data-x="1">Go</.button></:action>
</.table>
<%!-- hidden --%>
<!-- visible -->
<%= for x <- @xs do %>
  <li class={["a", @b && "b"]}>{x}</li>
<% end %>
<%= if @ok do %>
  <span>yes</span>
<% else %>
  <span>no</span>
<% end %>
<section {@attrs} data-a={@a}>
  <p>text with <em>emphasis</em> and {"#{@interp}"}</p>
</section>
<script>
  window.x = 1;
</script>
<style>
  p { color: red; }
</style>
"""

ELEMENT_TYPES = {"tag": "start_tag", "component": "start_component", "slot": "start_slot"}


def _reference(tree_root: ts.Node):
    """(kind, name, start, end, attributes) for every element in the tree-sitter-heex tree."""
    out = []
    stack = [tree_root]
    while stack:
        node = stack.pop()
        stack.extend(reversed(node.named_children))
        if node.type not in ELEMENT_TYPES:
            continue
        head = next(c for c in node.named_children if c.type.startswith(("start_", "self_closing_")))
        if node.type == "tag":
            name = next(c for c in head.named_children if c.type == "tag_name").text.decode()
        elif node.type == "component":
            name_node = next(c for c in head.named_children if c.type == "component_name")
            name = name_node.text.decode()
            name = name if name[:1].isupper() else name  # `.link` keeps its dot in the text
        else:
            name = ":" + next(c for c in head.named_children if c.type == "slot_name").text.decode()
        attributes = []
        for child in head.named_children:
            if child.type in ("attribute", "special_attribute"):
                attr_name = child.named_children[0].text.decode()
                value = child.named_children[1] if len(child.named_children) > 1 else None
                if value is not None:
                    inner = value.named_children[0] if value.named_children else None
                    vrange = (inner.start_byte, inner.end_byte) if inner is not None else None
                else:
                    vrange = None
                attributes.append((attr_name, child.start_byte, child.end_byte, vrange))
            elif child.type == "expression":
                inner = child.named_children[0]
                attributes.append(("", child.start_byte, child.end_byte, (inner.start_byte, inner.end_byte)))
        out.append((node.type, name, node.start_byte, node.end_byte, head.end_byte, attributes))
    return sorted(out, key=lambda item: item[2])


def _ours(template: heex.Template, data: bytes):
    out = []
    for element in template.elements():
        attributes = []
        for attribute in element.attrs:
            vrange = (attribute.value_start, attribute.value_end) if attribute.value_start >= 0 else None
            if vrange is not None and vrange[0] == vrange[1]:
                vrange = None  # the grammar has no attribute_value node for ""
            attributes.append((attribute.name, attribute.start, attribute.end, vrange))
        out.append((element.kind, element.name, element.start, element.end, element.start_tag_end, attributes))
    return sorted(out, key=lambda item: item[2])


def test_matches_reference_grammar_on_a_heex_file():
    data = TEMPLATE.encode()
    reference = _reference(ts.Parser(HEEX).parse(data).root_node)
    ours = _ours(heex.read(data), data)
    assert len(ours) == len(reference) > 15
    for mine, theirs in zip(ours, reference):
        assert mine == theirs


def test_matches_reference_grammar_inside_a_sigil_in_file_coordinates():
    body = TEMPLATE.replace('"""', "")
    source = f'defmodule MyAppWeb.PageLive do\n  use MyAppWeb, :live_view\n\n  def render(assigns) do\n    ~H"""\n{body}    """\n  end\nend\n'
    document = Document("/app/lib/my_app_web/live/page_live.ex", source)
    (template,) = heex.templates_of(document)
    assert template.start > 0
    parser = ts.Parser(HEEX)
    sigil = template.sigil
    content = next(c for c in sigil.named_children if c.type == "quoted_content")
    parser.included_ranges = [content.range]
    reference = _reference(parser.parse(document.data).root_node)
    ours = _ours(template, document.data)
    assert ours == reference
    first = next(template.elements())
    assert document.data[first.name_start : first.name_end] == b"div"


def test_eex_blocks_nest_and_pair_their_directives():
    template = heex.read(TEMPLATE)
    blocks = [n for n in template.nodes() if n.kind == "eex_block"]
    assert len(blocks) == 2
    assert [c.name for c in blocks[0].element_children()] == ["li"]
    assert blocks[1].clauses and blocks[1].end_directive is not None
    assert [c.name for c in blocks[1].element_children()] == ["span", "span"]
    comments = [n for n in template.nodes() if n.kind == "comment"]
    assert len(comments) == 2


def test_void_tags_have_no_children():
    # the pinned reference grammar has no void-tag list, so it is checked here
    template = heex.read('<div><img src={@src} alt=""><input value={@v}><p>x</p></div>')
    div = next(template.elements())
    assert [c.name for c in div.children] == ["img", "input", "p"]
    assert all(c.closed for c in div.children)


def test_key_special_attribute():
    # the pinned reference grammar predates :key, so it is checked here
    element = next(heex.read('<li :for={x <- @xs} :key={x.id}>{x}</li>').elements())
    assert [(a.name, a.special, a.value) for a in element.attrs] == [(":for", True, "x <- @xs"), (":key", True, "x.id")]


def test_expressions_with_nested_braces_and_strings():
    template = heex.read('<p>{%{a: "}"}} {"#{x}}"} {?}}</p><i>{@y}</i>')
    exprs = [template.text(n.code_start, n.code_end) for n in template.nodes() if n.kind == "expr"]
    assert exprs == ['%{a: "}"}', '"#{x}}"', "?}", "@y"]


@pytest.mark.parametrize(
    "code",
    ["@rows}", '["row", a && "b"]}', '~p"/s/#{song}"}', 'JS.push("x", value: %{id: s.id})}', "song.new?}",
     "{id, s} <- @s}", "~w(a b)a}", "'c#{x}'}", '"a\\"b"}', "?a}", "# c\n}", "{{a}}}", '"""x"""}', "~r/a\\/b/}",
     '"#{"x"}"}', "~s{a}}", "x ?} y}", '"""}'],
)
def test_skip_code_ends_where_the_full_scan_ends(code):
    # skip_code reads the common shapes with one regex; it must end where skip_nested_code does
    data = code.encode()
    assert heex.skip_code(data, 0, len(data)) == heex.skip_nested_code(data, 0, len(data))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(['"', "'", "{", "}", "#", "#{", "?", "x?", "~", "~p", "~s(", ")", "/", "|", "<", ">",
                                 "\\", '"""', "a", " ", "\n", "%{"]), max_size=20))
def test_fuzz_skip_code_agrees_with_the_full_scan(parts):
    data = "".join(parts).encode() + b"}"
    for end in (len(data), len(data) - 1):
        assert heex.skip_code(data, 0, end) == heex.skip_nested_code(data, 0, end)


def test_script_and_style_are_raw_text():
    template = heex.read("<script>{x}<p></script><style>a{b}</style>")
    assert [n.name for n in template.nodes()] == ["script", "style"]


def test_parse_code_keeps_file_positions():
    data = b'<div :for={{id, s} <- @streams.songs, s.ok}></div>'
    template = heex.read(data)
    attribute = next(template.elements()).attr(":for")
    first, second = heex.split_top_level(data, attribute.value_start, attribute.value_end)
    root = heex.parse_code(data, *first)
    assert root is not None and not root.has_error
    assert data[root.start_byte : root.end_byte] == b"{id, s} <- @streams.songs"


@pytest.mark.parametrize(
    "text",
    ["<div", "<div class=", '<div class="x', "<div {", "<.comp :for={x <- ", "<%= for x <- y do %><li>",
     "</div>", "<% end %>", "<:slot>", "{", "<%", "<!--", "<%!--", "<div></span></div>", "<a b=c>"],
)
def test_half_typed_templates(text):
    template = heex.read(text)
    for node in template.nodes():
        assert 0 <= node.start <= node.end <= len(text.encode())


def test_a_range_ending_before_an_equals_sign():
    # a sigil body's range can end just before a `=` of the file: it is not the attribute's
    element = next(heex.read(b'<div a=b>', 0, 6).elements())
    assert [(a.name, a.kind, a.end) for a in element.attrs] == [("a", "bare", 6)]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(TEMPLATE)), st.integers(min_value=0, max_value=len(TEMPLATE)),
       st.sampled_from(["<", ">", "{", "}", '"', "<%", "%>", "<% end %>", "</div>", "<.x", "/>", "=", "'", "do %>"]))
def test_fuzz_truncations_and_insertions_never_raise(cut, where, insert):
    data = TEMPLATE.encode()
    for text in (data[:cut], data[:where] + insert.encode() + data[where:]):
        template = heex.read(text)
        for node in template.nodes():
            assert 0 <= node.start <= node.end <= len(text)
        for _node, _attr, start, end in template.code_ranges():
            heex.parse_code(text, start, end)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='<>{}"\'%=/.:-!# abc\n', max_size=80))
def test_fuzz_random_text_never_raises(text):
    heex.read(text)
