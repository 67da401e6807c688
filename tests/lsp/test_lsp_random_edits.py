"""Random incremental edits over stdio end with the diagnostics `exhort check` reports for
the same text (the long run is bench/lsp_random_edits.py)."""

from __future__ import annotations

import random

import pytest

import random_edits
from exhort.document import Document
from exhort.engine import DocumentState, Engine

FAST_SCOPES = frozenset({"node", "module"})


@pytest.mark.parametrize("seed", [1, 2, 3])  # one per position encoding
def test_random_edits_end_with_the_findings_of_exhort_check(tmp_path, seed):
    outcome = random_edits.run(seed, edits=150, checkpoint_every=40, work=tmp_path)
    assert outcome.failures == [], outcome.failures
    assert outcome.checkpoints >= 3 and outcome.requests > 0 and outcome.findings_compared > 0


@pytest.mark.parametrize("seed", [4, 6])
def test_the_checks_the_server_runs_along_the_same_edits_equal_checks_from_scratch(tmp_path, seed):
    """The server's checks reuse what earlier checks of the document found; after every
    didChange of the same random stream, in process, that must equal a check from scratch.
    (The same bytes can parse to another node after an error elsewhere, for example a call
    `IO.inspect` or a bare `IO.inspect` dot; a reuse keyed on the bytes alone said STY001 of
    the dot: these seeds found it.)"""
    rng, text, encoding = random.Random(seed), random_edits.START, random_edits.ENCODINGS[seed % 3]
    path = str(tmp_path / "lib" / "sample" / "edited.ex")
    engine, document, state = Engine(), Document(path, text), DocumentState()
    for number in range(1, 301):
        text, changes, _, _ = random_edits.next_burst(rng, text, encoding)
        for change in changes:
            start, end = change["range"]["start"], change["range"]["end"]
            document.apply_range_edit(start["line"], start["character"], end["line"], end["character"], change["text"], encoding)
        options = {"report_unused_suppressions": True} if number % 5 == 0 else {"scopes": FAST_SCOPES}
        reused = engine.check(document, None, state, **options).findings
        scratch = engine.check(Document(path, text), None, DocumentState(), **options).findings
        key = lambda findings: sorted((f.code, f.start, f.end, f.message) for f in findings)  # noqa: E731
        assert key(reused) == key(scratch), f"after didChange {number}"
