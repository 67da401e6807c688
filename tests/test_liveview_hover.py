"""Hover references of the liveview pack."""

from exhort.document import Document
from exhort.rule import Context

from exhort_rules.liveview.options import HOVERS, hover_stream_options


def _ctx(path, text, offset=None):
    ctx = Context(Document(path, text), None, None, {})
    if offset is not None:
        ctx.hover_offset = offset
    return ctx


def test_declared():
    assert hover_stream_options in HOVERS


def test_stream_option_key():
    text = "def mount(_, _, s), do: {:ok, stream(s, :songs, [], limit: -50)}\n"
    ctx = _ctx("/app/lib/x.ex", text)
    offset = text.index("limit")
    node = ctx.document.tree.root_node.named_descendant_for_byte_range(offset, offset + 1)
    markdown = hover_stream_options(ctx, node)
    assert markdown and "limit:" in markdown and "stream(socket" in markdown


def test_phx_update_in_heex_file():
    text = '<ul id="songs" phx-update="stream"></ul>\n'
    ctx = _ctx("/app/lib/x_live.html.heex", text, text.index("stream\""))
    markdown = hover_stream_options(ctx, None)
    assert markdown and "immediate parent" in markdown and "stream items" in markdown
    assert hover_stream_options(_ctx("/app/lib/x_live.html.heex", text), None) is None


def test_unrelated_call_is_silent():
    text = "Enum.map(xs, & &1)\n"
    ctx = _ctx("/app/lib/x.ex", text)
    node = ctx.document.tree.root_node.named_descendant_for_byte_range(6, 7)
    assert hover_stream_options(ctx, node) is None
