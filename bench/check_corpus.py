"""Benchmark: `exhort check` next to a bare tree-sitter parse of the same files.

    python bench/check_corpus.py --corpus DIR [--only NAME ...] [--runs 3] [--jobs N] [--baseline PYTHON]
    python bench/check_corpus.py [--files 2000] [--runs 3] [--keep DIR]

With --corpus, each directory directly under DIR is a real repository; for each one, runs
alternate (parse, check, parse, check, ...) and the medians are printed: a bare
single-process parse of the files `exhort check` checks (read each file, tree-sitter parse,
nothing else), and `exhort check --no-cache` with all cores (or --jobs), wall seconds and the CPU
seconds of its processes; then the check's wall time over the parse's, and its CPU seconds
over the parse's (the steadier figure on a machine busy with other work). --baseline adds the same check with another Python (another
checkout's venv), alternated with this one, for A/B comparisons on a busy machine.

Without --corpus, generates about 2,000 files / 300k lines of varied Elixir (GenServers,
Oban workers, LiveViews, contexts with Repo calls, and every rule's examples), then prints
the median seconds and files/s of the bare parse, `exhort check --jobs 1` and `exhort check`
with all cores.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tree_sitter as ts
import tree_sitter_elixir

from exhort.config import Config
from exhort.files import discover
from exhort.registry import default_registry

GENSERVER = '''
defmodule {app}.{name}Server do
  @moduledoc """
  Keeps the {thing} cache warm — résumé café 😀.
  """
  use GenServer
  require Logger

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)
  def get(key), do: GenServer.call(__MODULE__, {{:get, key}}, 5_000)

  @impl true
  def init(opts) do
    Process.send_after(self(), :refresh, Keyword.get(opts, :interval, 60_000))
    {{:ok, %{{entries: %{{}}, opts: opts}}}}
  end

  @impl true
  def handle_call({{:get, key}}, _from, state) do
    {{:reply, Map.get(state.entries, key), state}}
  end

  @impl true
  def handle_info(:refresh, state) do
    entries = {app}.{name}.list() |> Enum.map(&{{&1.id, &1}}) |> Map.new()
    if map_size(entries) == 0, do: Logger.debug("empty {thing} cache")
    {{:noreply, %{{state | entries: entries}}}}
  end

  def handle_info(_msg, state), do: {{:noreply, state}}
end
'''

WORKER = '''
defmodule {app}.Workers.{name}Worker do
  use Oban.Worker, queue: :default, max_attempts: {attempts}, unique: [period: 60]
  alias {app}.{name}

  @impl Oban.Worker
  def perform(%Oban.Job{{args: %{{"id" => id}} = args}}) when is_binary(id) do
    with {{:ok, record}} <- {name}.fetch(id),
         {{:ok, _}} <- {name}.process(record, Map.get(args, "mode", "full")) do
      :ok
    else
      {{:error, :not_found}} -> {{:cancel, :not_found}}
      {{:error, reason}} -> {{:error, reason}}
    end
  end
end
'''

CONTEXT = '''
defmodule {app}.{name} do
  import Ecto.Query, warn: false
  alias {app}.Repo

  def list(filters \\\\ %{{}}) do
    from(r in "{thing}s", where: r.active == true, order_by: [desc: r.inserted_at])
    |> maybe_filter(filters)
    |> Repo.all()
  end

  defp maybe_filter(query, %{{"status" => status}}), do: where(query, [r], r.status == ^status)
  defp maybe_filter(query, _), do: query

  def fetch(id) do
    case Repo.get("{thing}s", id) do
      nil -> {{:error, :not_found}}
      record -> {{:ok, record}}
    end
  end

  def process(record, mode) when mode in ["full", "partial"] do
    record
    |> Map.put(:mode, mode)
    |> Map.update(:count, 1, &(&1 + 1))
    |> then(&{{:ok, &1}})
  end

  def summary(records) do
    for r <- records, r.count > {attempts}, into: %{{}} do
      {{r.id, String.upcase(r.name || "")}}
    end
  end
end
'''

LIVE = '''
defmodule {app}Web.{name}Live do
  use Phoenix.LiveView

  def mount(_params, _session, socket) do
    {{:ok, socket |> assign(:title, "{thing}s") |> stream(:items, [])}}
  end

  def handle_event("delete", %{{"id" => id}}, socket) do
    {{:noreply, stream_delete_by_dom_id(socket, :items, "items-" <> id)}}
  end

  def render(assigns) do
    ~H"""
    <h1>{{@title}}</h1>
    <div id="items" phx-update="stream">
      <div :for={{{{dom_id, item}} <- @streams.items}} id={{dom_id}}>{{item.name}}</div>
    </div>
    """
  end
end
'''

TEMPLATES = [GENSERVER, WORKER, CONTEXT, LIVE]
THINGS = ["order", "invoice", "user", "team", "report", "event", "widget", "ticket", "payment", "session"]


def example_bodies() -> list[str]:
    bodies = []
    for rule in default_registry().rules:
        for example in rule.examples:
            if example.path.endswith(".ex") and example.path.startswith("lib/") and not example.files:
                bodies.append(example.code)
    return bodies


def generate(root: Path, files: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    examples = example_bodies()
    (root / "mix.exs").write_text("defmodule Bench.MixProject do\n  use Mix.Project\nend\n")
    lines = 0
    for number in range(files):
        app = f"Bench{number % 17}"
        parts = []
        target = rng.randint(110, 190)
        count = 0
        while count < target:
            template = rng.choice(TEMPLATES)
            name = f"{rng.choice(THINGS).title()}{number}x{len(parts)}"
            body = template.format(app=app, name=name, thing=rng.choice(THINGS), attempts=rng.randint(3, 20))
            if rng.random() < 0.35 and examples:
                body += "\n" + rng.choice(examples)
            parts.append(body)
            count += body.count("\n")
        text = "\n".join(parts)
        lines += text.count("\n")
        folder = root / "lib" / f"area_{number % 40}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module_{number}.ex").write_text(text)
    return lines


def bare_parse(root: Path) -> float:
    parser = ts.Parser(ts.Language(tree_sitter_elixir.language()))
    started = time.perf_counter()
    for path in sorted(root.rglob("*.ex")):
        parser.parse(path.read_bytes())
    return time.perf_counter() - started


def exhort_check(root: Path, jobs: int, python: str = sys.executable) -> float:
    return timed_check(root, jobs, python)[0]


def timed_check(root: Path, jobs: int, python: str = sys.executable) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all its processes) of one `exhort check`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        # --no-cache: every run checks every file (bench/check_cache.py times the result cache)
        [python, "-m", "exhort", "check", str(root), "--jobs", str(jobs), "--statistics", "--no-progress",
         "--no-cache"],
        capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(f"exhort check failed: {result.stderr}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bare_parse_files(files: list[Path]) -> tuple[float, float]:
    """Wall seconds and CPU seconds of reading and parsing `files` in this process."""
    parser = ts.Parser(ts.Language(tree_sitter_elixir.language()))
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        if path.suffix != ".heex":
            parser.parse(path.read_bytes())
    return time.perf_counter() - started, time.process_time() - cpu


def corpus(directory: Path, only: list[str], runs: int, jobs: int, baseline: str | None) -> None:
    """Every repository under `directory`: bare parse against exhort check, runs alternated."""
    print(f"{os.cpu_count()} cores, --jobs {jobs}, {runs} runs (median), load average {os.getloadavg()[0]:.1f}")
    # "x parse": wall against wall; "cpu x": the CPU seconds of all the check's processes against
    # those of the parse, which tells more on a machine busy with other work (wall times there
    # measure the other work too), though the check's total counts every core it used.
    header = f"{'repository':<16}{'files':>6}{'parse s':>9}{'cpu s':>7}{'check s':>9}{'cpu s':>7}{'x parse':>8}{'cpu x':>7}"
    if baseline:
        header += f"{'base s':>9}{'cpu s':>7}{'x parse':>8}{'cpu x':>7}"
    print(header)
    totals = [0.0, 0.0, 0.0, 0.0]
    for repository in sorted(p for p in directory.iterdir() if p.is_dir()):
        if only and repository.name not in only:
            continue
        files = list(discover([repository], lambda _path: Config()))
        parses, checks, bases = [], [], []
        for _ in range(runs):
            parses.append(bare_parse_files(files))
            checks.append(timed_check(repository, jobs))
            if baseline:
                bases.append(timed_check(repository, jobs, baseline))
        parse = statistics.median(p[0] for p in parses)
        parse_cpu = statistics.median(p[1] for p in parses)
        wall = statistics.median(c[0] for c in checks)
        cpu = statistics.median(c[1] for c in checks)
        row = (f"{repository.name:<16}{len(files):>6}{parse:>9.2f}{parse_cpu:>7.2f}{wall:>9.2f}"
               f"{cpu:>7.1f}{wall / parse:>8.2f}{cpu / parse_cpu:>7.2f}")
        totals[0] += parse
        totals[1] += wall
        if baseline:
            base = statistics.median(b[0] for b in bases)
            base_cpu = statistics.median(b[1] for b in bases)
            row += f"{base:>9.2f}{base_cpu:>7.1f}{base / parse:>8.2f}{base_cpu / parse_cpu:>7.2f}"
            totals[2] += base
        print(row, flush=True)
    line = f"{'all':<16}{'':>6}{totals[0]:>9.2f}{'':>7}{totals[1]:>9.2f}{'':>7}{totals[1] / totals[0]:>8.2f}{'':>7}"
    if baseline:
        line += f"{totals[2]:>9.2f}{'':>7}{totals[2] / totals[0]:>8.2f}"
    print(line)
    print(f"load average after {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument("--corpus", type=Path, help="a folder of real repositories, one per subfolder")
    parser.add_argument("--only", nargs="*", default=[], help="with --corpus: these repositories only")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--baseline", help="with --corpus: another Python with exhort installed, run alternately")
    args = parser.parse_args()
    if args.corpus:
        corpus(args.corpus, args.only, args.runs, args.jobs, args.baseline)
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="exhort-bench-"))
    try:
        if args.keep and root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        lines = generate(root, args.files)
        files = args.files
        cores = os.cpu_count() or 1
        print(f"corpus: {files} files, {lines} lines, {cores} cores, {args.runs} runs (median)")
        rows = [
            ("bare tree-sitter parse, 1 process", [bare_parse(root) for _ in range(args.runs)]),
            ("exhort check --jobs 1", [exhort_check(root, 1) for _ in range(args.runs)]),
            (f"exhort check --jobs {cores}", [exhort_check(root, cores) for _ in range(args.runs)]),
        ]
        baseline = statistics.median(rows[0][1])
        for label, times in rows:
            median = statistics.median(times)
            print(f"{label:<38} {median:7.2f} s  {files / median:8.0f} files/s  {median / baseline:5.2f}x parse")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
