"""Random incremental edits over stdio end with the diagnostics `exhort check` reports for
the same text (the long run is bench/lsp_random_edits.py)."""

from __future__ import annotations

import pytest

import random_edits


@pytest.mark.parametrize("seed", [1, 2, 3])  # one per position encoding
def test_random_edits_end_with_the_findings_of_exhort_check(tmp_path, seed):
    outcome = random_edits.run(seed, edits=150, checkpoint_every=40, work=tmp_path)
    assert outcome.failures == [], outcome.failures
    assert outcome.checkpoints >= 3 and outcome.requests > 0 and outcome.findings_compared > 0
