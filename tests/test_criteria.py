"""Label-free criteria: direction, the source-accuracy gate, and missing scores."""

from __future__ import annotations

import math

from hftl.criteria import CRITERIA, Criterion

SCORES = {"frozen": 6.6, "finetune": 6.1, "dann": 6.2, "lora": 6.15}
SOURCE = {"frozen": 0.64, "finetune": 0.858, "dann": 0.852, "lora": 0.80}


def test_plain_scores_order_by_direction():
    assert CRITERIA["snd"].order(SCORES, SOURCE) == ["frozen", "dann", "lora", "finetune"]
    lower = Criterion("k", "c", higher_is_better=False, title="")
    assert lower.order(SCORES, SOURCE) == ["finetune", "lora", "dann", "frozen"]


def test_the_gate_keeps_candidates_far_below_the_best_source_accuracy_behind():
    # finetune (85.8) and dann (85.2) are within 1 point; lora and frozen compete only after them
    assert CRITERIA["gated-snd"].order(SCORES, SOURCE) == ["dann", "finetune", "frozen", "lora"]
    wide = Criterion("k", "c", higher_is_better=True, title="", source_gate=10.0)
    assert wide.order(SCORES, SOURCE)[0] == "dann" and wide.order(SCORES, SOURCE)[-1] == "frozen"


def test_missing_scores_come_last():
    scores = {**SCORES, "dann": math.nan}
    assert CRITERIA["gated-snd"].order(scores, SOURCE)[:2] == ["finetune", "dann"]
    assert CRITERIA["snd"].order(scores, SOURCE)[-1] == "dann"


def test_a_candidate_without_source_accuracy_is_outside_the_gate():
    source = {**SOURCE, "dann": math.nan}
    assert CRITERIA["gated-snd"].order(SCORES, source)[0] == "finetune"
