"""Where the time goes, rule by rule: query matches and check time over a folder of Elixir.

    python bench/rule_costs.py PATH [--top 20]

Prints, for the bare parse, for each workspace fact extractor (what indexing a file costs
beyond parsing it) and for each rule, the CPU seconds spent, and for each rule the number of
query matches its patterns produce (each one costs a Python call and a dict of captures). A rule with many matches and few findings wants a narrower pattern; a rule with a
slow check wants less walking in Python. Last, the patterns the engine cannot anchor on a
name (no #eq?/#any-of?/#match? string it can search for, see exhort.matching): each of those
costs a walk of every member on every check.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import tree_sitter as ts

from exhort.config import Config
from exhort.document import Document
from exhort.engine import Engine
from exhort.files import discover, project_root_for_file, read_source
from exhort.parsing import compile_query
from exhort.registry import default_registry
from exhort.rule import Rule
from exhort.workspace import WorkspaceIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()

    paths = list(discover([args.path], lambda _p: Config()))
    texts = [(str(p.resolve()), text) for p in paths for text, skipped in [read_source(p)] if text is not None]
    started = time.process_time()
    documents = [Document(path, text) for path, text in texts]
    parse = time.process_time() - started
    print(f"{len(documents)} files, parse {parse:.2f} s (CPU seconds, this process)")

    # The index as `exhort check` builds it: every extractor on every file, timed one by one
    # (the same documents the checks below read, so what extractors memoise is shared).
    index = WorkspaceIndex(root_finder=project_root_for_file)
    extractors = dict(index._extractors)
    extracting: Counter[str] = Counter()

    def timed_extractor(name, extractor):
        def run(document, path):
            begin = time.process_time()
            try:
                return extractor(document, path)
            finally:
                extracting[name] += time.process_time() - begin
        run.requires = getattr(extractor, "requires", ())
        return run

    index._extractors = {name: timed_extractor(name, extractor) for name, extractor in extractors.items()}
    started = time.process_time()
    for document in documents:
        index.set_facts(document.path, index.extract(document))
    print(f"index facts {time.process_time() - started:.2f} s, of which extractors {sum(extracting.values()):.2f} s:")
    for name, seconds in extracting.most_common(args.top):
        print(f"  {name:<28}{seconds:>7.3f}")
    index._extractors = extractors

    matches: Counter[str] = Counter()
    for rule in default_registry().rules:
        if rule.query:
            query = compile_query(rule.query)
            for document in documents:
                if document.tree is not None:
                    matches[rule.code] += len(ts.QueryCursor(query).matches(document.tree.root_node))

    spent: Counter[str] = Counter()
    found: Counter[str] = Counter()
    original = Rule.run

    def timed(self, ctx, match):
        begin = time.process_time()
        try:
            results = original(self, ctx, match)
            found[self.code] += len(results)
            return results
        finally:
            spent[self.code] += time.process_time() - begin

    Rule.run = timed  # type: ignore[method-assign]
    engine = Engine()
    started = time.process_time()
    engine.warm_up()
    print(f"query compilation {time.process_time() - started:.2f} s")
    started = time.process_time()
    for document in documents:
        engine.check(document, index)
    total = time.process_time() - started
    Rule.run = original  # type: ignore[method-assign]
    print(f"engine.check over all files {total:.2f} s, of which rule checks {sum(spent.values()):.2f} s\n")
    print(f"{'rule':<8}{'check s':>9}{'matches':>10}{'findings':>10}")
    for code, seconds in spent.most_common(args.top):
        print(f"{code:<8}{seconds:>9.3f}{matches[code]:>10}{found[code]:>10}")
    print("\npatterns run over every node (not anchored on a name):")
    for group in default_registry().groups({rule.code for rule in default_registry().rules}):
        matcher, dispatch = group.compiled
        if matcher is None:
            continue
        for index in matcher.residual:
            rule, number = dispatch[index]
            print(f"  {rule.code} pattern {number} ({group.scope} scope)")


if __name__ == "__main__":
    main()
