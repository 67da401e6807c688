"""Median time to read a 2,000-line HEEx template with exhort's reader.

    /tmp/venv/bin/python bench/heex_reader.py
"""

from __future__ import annotations

import statistics
import time

from exhort import heex

BLOCK = """<div id="songs-{n}" phx-update="stream" class="grid gap-2">
  <div :for={{{{id, song}} <- @streams.songs}} id={{id}} class={{["row", song.active && "active"]}}>
    <.link navigate={{~p"/songs/#{{song}}"}} phx-click={{JS.push("play", value: %{{id: song.id}})}}>{{song.title}}</.link>
    <%= if song.artist do %>
      <span class="artist">{{song.artist}}</span>
    <% else %>
      <span>Unknown</span>
    <% end %>
    <MyAppWeb.Components.badge :if={{song.new?}} {{@rest}} />
  </div>
</div>
<.table id="t-{n}" rows={{@rows}}>
  <:col :let={{row}} label="Name">{{row.name}}</:col>
</.table>
<%!-- block {n} --%>
"""


def template(lines: int = 2000) -> bytes:
    out, n = [], 0
    while sum(part.count("\n") for part in out) < lines:
        out.append(BLOCK.format(n=n))
        n += 1
    return "".join(out).encode()


def main() -> None:
    data = template()
    runs = []
    for _ in range(100):
        started = time.perf_counter()
        heex.read(data)
        runs.append(time.perf_counter() - started)
    lines = data.count(b"\n")
    print(f"{lines} lines, {len(data)} bytes: median {statistics.median(runs) * 1000:.2f} ms "
          f"(min {min(runs) * 1000:.2f} ms) over {len(runs)} runs")


if __name__ == "__main__":
    main()
