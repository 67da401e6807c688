"""The engine's cost of a keystroke on a real file, in process (prints figures; not a test).

    python bench/keystroke.py FILE [FILE ...] [--edits 200] [--places 20] [--runs 3] [--profile]

For each file: one-character insertions at `places` lines spread over the file (`edits /
places` letters typed in front of the first word of the line, like a person typing in several
places: each keystroke makes a text the engine has not seen), each followed by the language server's
keystroke check (the node and module scopes, with the document's engine state). Then, after
the last keystroke, the check the server runs once typing pauses (every scope, on the text
the keystroke's check saw, as lsp/checks.py does). Times are the
thread's CPU time, so that other work on a shared machine weighs less than in wall time;
medians over `runs` runs of the whole sequence.

Also prints the first check of the file as an unsaved buffer (parse + every scope, nothing
cached) and of the fast scopes alone.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from pathlib import Path

from exhort.document import Document, TextChange
from exhort.engine import DocumentState, Engine

FAST_SCOPES = frozenset({"node", "module"})
TYPED = [bytes([c]) for c in b"abcdefghijklmnopqrstuvwxyz"]  # a name typed in front of the line's first word


KEYWORDS = (b"end", b"do", b"else", b"after", b"rescue", b"catch", b"fn", b"when", b"def", b"defp", b"defmacro",
            b"defmacrop", b"defmodule", b"defstruct", b"defdelegate", b"defguard", b"defimpl", b"defprotocol")


def places(data: bytes, count: int, anywhere: bool = False) -> list[int]:
    """Byte offsets of the first character of `count` lines spread over the text: lines that
    start with a lower-case name other than a keyword (a variable or a local call, as in a
    function body), or, with `anywhere`, any line that is not blank or a comment."""
    starts = [0]
    for position, byte in enumerate(data):
        if byte == 10:
            starts.append(position + 1)
    chosen = []
    for number in range(count):
        line = (number * 2 + 1) * len(starts) // (count * 2)
        for candidate in range(line, len(starts)):
            start = starts[candidate]
            end = data.find(b"\n", start)
            text = data[start : end if end >= 0 else len(data)]
            stripped = text.lstrip()
            if not stripped or stripped.startswith(b"#"):
                continue
            word = stripped.split(None, 1)[0].rstrip(b"(,")
            if anywhere or (stripped[:1].islower() and word not in KEYWORDS):
                chosen.append(start + len(text) - len(stripped))
                break
    return chosen


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def cpu_ms(function) -> float:
    started = time.thread_time()
    function()
    return (time.thread_time() - started) * 1000


def run(engine: Engine, path: str, data: bytes, edits: int, count: int, anywhere: bool,
        profile: cProfile.Profile | None):
    document = Document(path, data)
    state = DocumentState()
    engine.check(document, None, state, scopes=FAST_SCOPES)
    engine.check(document, None, state)
    spots = places(data, count, anywhere)
    per_place = max(1, edits // len(spots))
    timings = []
    parse_timings = []  # the part of each keystroke spent applying the edit and reparsing
    typed = 0  # bytes inserted so far before the current spot
    for number in range(edits):
        place, column = divmod(number, per_place)
        if place >= len(spots):
            break
        if column == 0 and place:
            typed += per_place
        spot = spots[place] + typed + column
        change = TextChange(spot, spot, TYPED[column % len(TYPED)])
        if profile is not None:
            profile.enable()
        KEYSTROKES["now"] = True
        started = time.thread_time()
        document.apply(change)
        parsed = time.thread_time()
        engine.check(document, None, state, scopes=FAST_SCOPES)
        timings.append((time.thread_time() - started) * 1000)
        parse_timings.append((parsed - started) * 1000)
        KEYSTROKES["now"] = False
        if profile is not None:
            profile.disable()
    # What the server runs once typing pauses, on the text the last keystroke's check saw.
    full = cpu_ms(lambda: engine.check(document, None, state, report_unused_suppressions=True))
    cold_fast = cpu_ms(lambda: engine.check(Document(path, data), None, DocumentState(), scopes=FAST_SCOPES))
    cold = cpu_ms(lambda: engine.check(Document(path, data), None, DocumentState()))
    return timings, full, cold_fast, cold, parse_timings


KEYSTROKES = {"now": False}  # rule times are added up only while a keystroke is checked


def time_rules(engine: Engine) -> dict[str, float]:
    """Wrap every rule's run to add up its CPU time during keystroke checks."""
    totals: dict[str, float] = {}
    for rule in engine.registry.by_code.values():
        original = rule.run

        def timed(ctx, match, original=original, code=rule.code):
            if not KEYSTROKES["now"]:
                return original(ctx, match)
            started = time.thread_time()
            try:
                return original(ctx, match)
            finally:
                totals[code] = totals.get(code, 0.0) + time.thread_time() - started

        rule.run = timed
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--places", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--anywhere", action="store_true", help="edit at any line, not only body lines")
    parser.add_argument("--profile", action="store_true", help="profile the keystrokes; print the top functions")
    parser.add_argument("--rules", action="store_true", help="print each rule's CPU time per keystroke")
    args = parser.parse_args()
    engine = Engine()
    engine.warm_up()
    rule_times = time_rules(engine) if args.rules else None
    profile = cProfile.Profile() if args.profile else None
    print(f"{'file':<44}{'lines':>6}  {'key median':>10} {'p95':>6} {'max':>6} {'parse':>6}  {'pause':>6}  {'cold fast':>9} {'cold':>6}  (CPU ms)")
    for path in args.files:
        data = path.read_bytes()
        results = [run(engine, str(path.resolve()), data, args.edits, args.places, args.anywhere, profile) for _ in range(args.runs)]
        medians = [statistics.median(r[0]) for r in results]
        p95s = [percentile(r[0], 0.95) for r in results]
        maxima = [max(r[0]) for r in results]
        name = "/".join(path.parts[-3:])[-43:]
        lines = data.count(b"\n")
        print(
            f"{name:<44}{lines:>6}  {statistics.median(medians):>10.2f} {statistics.median(p95s):>6.2f} "
            f"{statistics.median(maxima):>6.1f} {statistics.median(statistics.median(r[4]) for r in results):>6.2f}  {statistics.median(r[1] for r in results):>6.1f}  "
            f"{statistics.median(r[2] for r in results):>9.1f} {statistics.median(r[3] for r in results):>6.1f}"
        )
    if rule_times:
        keystrokes = args.edits * args.runs * len(args.files)
        print("rule CPU per keystroke (ms, all runs; rules under 0.05 ms left out):")
        for code, seconds in sorted(rule_times.items(), key=lambda item: -item[1]):
            if seconds * 1000 / keystrokes >= 0.05:
                print(f"  {code:<8} {seconds * 1000 / keystrokes:7.2f}")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime" if args.rules else "cumulative").print_stats(35)


if __name__ == "__main__":
    main()
