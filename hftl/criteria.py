"""Label-free criteria for choosing among finished runs: which metric, which direction, and an optional source gate.

None of them reads target labels. ``source`` (the highest source validation accuracy) is the default of
``hftl compare``: over the 7 benchmarks in BENCHMARKS.md it lost the least target accuracy. ``gated-snd`` keeps
SND's view of the target but only among candidates close to the best source accuracy (SND alone rewards
predictions that collapse onto a few classes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SOURCE_ACCURACY = "source_val/accuracy"


@dataclass(frozen=True)
class Criterion:
    key: str  # the metrics.json key of the score
    column: str  # the hftl compare leaderboard field holding (mean, std) of the score
    higher_is_better: bool
    title: str
    source_gate: float | None = None  # only candidates within this many points of the best source accuracy compete

    def order(self, scores: dict[str, float], source_accuracy: dict[str, float]) -> list[str]:
        """Candidate names, best first: those inside the source gate by score, then the rest by score (a missing,
        NaN, score ranks last within its group)."""
        best_source = max((a for a in source_accuracy.values() if not math.isnan(a)), default=math.nan)

        def rank(name: str) -> tuple[bool, float]:
            accuracy = source_accuracy[name]
            outside = self.source_gate is not None and not accuracy >= best_source - self.source_gate / 100
            score = scores[name] if self.higher_is_better else -scores[name]
            return outside, -score if not math.isnan(score) else math.inf

        return sorted(scores, key=rank)


CRITERIA = {
    "gated-snd": Criterion("target_train/snd", "snd", True, "highest SND among the candidates within 1 point of the "
                           "best source validation accuracy", source_gate=1.0),
    "snd": Criterion("target_train/snd", "snd", True, "highest SND: soft neighborhood density on the target pool"),
    "dev": Criterion("target_train/dev_risk", "dev_risk", False,
                     "lowest DEV risk: importance-weighted source validation loss"),
    "source": Criterion(SOURCE_ACCURACY, "source_accuracy", True, "highest source validation accuracy"),
}  # fmt: skip
DEFAULT_CRITERION = "source"
