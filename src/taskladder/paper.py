"""The paper's published numbers (Bhagia et al., 2024) and the job that recomputes them.

Reference values are copied from the paper (Figure 2, Table 7) as printed, so the
report can show them beside taskladder's own and the tests can hold us to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .chain import PAPER, ChainConfig, Ladder, TaskPredictor, predict_targets
from .datasets import LadderData, olmo2_ladder
from .tasks import PAPER_TASKS

#: Figure 2: chained RC-accuracy predictions and actuals, in points.
#: {task: (7B pred, 7B actual, 13B pred, 13B actual)}
FIGURE2 = {
    "mmlu": (48.4, 49.0, 51.3, 51.6),
    "hellaswag": (82.5, 81.3, 85.3, 83.2),
    "arc_challenge": (51.5, 61.9, 52.7, 63.8),
    "arc_easy": (76.6, 84.6, 77.2, 87.2),
    "piqa": (81.2, 82.0, 82.1, 83.0),
    "csqa": (75.7, 72.6, 77.6, 74.1),
    "socialiqa": (58.7, 59.9, 59.9, 61.6),
    "openbookqa": (44.2, 49.4, 44.9, 48.6),
}
#: Figure 2's mean absolute errors, in points.
FIGURE2_MAE = {"7B-4T": 3.8, "13B-5T": 4.2}
#: Section 5.1 / Table 4: Pearson r of a task's loss SD over the last checkpoints against its
#: step-2 error at 7B-4T, over the 10 tasks.
TABLE4_R = 0.82

#: Table 7, step 1: (A, alpha, B, beta, E).
TABLE7_STEP1 = {
    "mmlu": (38.07, 0.23, 100.09, 0.24, 0.45),
    "hellaswag": (11.23, 0.20, 60.37, 0.26, 0.50),
    "piqa": (405.66, 0.40, 10.16, 0.15, 0.72),
}
#: Table 7, step 2: (a, k, L0, b).
TABLE7_STEP2 = {
    "mmlu": (-0.74, 4.83, 0.62, 1.00),
    "hellaswag": (-0.73, 12.74, 0.77, 0.99),
    "piqa": (-0.46, 5.03, 0.96, 1.00),
}

TARGETS = ("7B-4T", "13B-5T")


def figure2_table() -> pd.DataFrame:
    """Figure 2 as a tidy table: task, target, predicted, actual (fractions)."""
    rows = []
    for task, (p7, a7, p13, a13) in FIGURE2.items():
        rows.append({"task": task, "target": "7B-4T", "predicted": p7 / 100, "actual": a7 / 100})
        rows.append({"task": task, "target": "13B-5T", "predicted": p13 / 100, "actual": a13 / 100})
    return pd.DataFrame(rows)


@dataclass
class Reproduction:
    """Result of :func:`reproduce`: the prediction table and the fitted chains."""

    predictions: pd.DataFrame
    fits: dict[str, TaskPredictor]
    data: LadderData = field(repr=False)
    ladder: Ladder = field(repr=False)

    def mean_abs_error(self) -> dict[str, float]:
        """Mean absolute error in points per target (the paper's headline figure)."""
        return self.predictions.groupby("target", sort=False)["abs_error"].mean().to_dict()


def reproduce(data: LadderData | None = None, tasks=PAPER_TASKS, config: ChainConfig = PAPER,
              progress=None) -> Reproduction:
    """Recompute the paper's Figure 2 from the ladder data (bundled by default)."""
    data = data or olmo2_ladder()
    ladder = Ladder(data.ladder)
    targets = [data.targets[t] for t in TARGETS if t in data.targets]
    preds, fits = predict_targets(ladder, targets, tasks, config, progress=progress)
    ref = figure2_table().rename(columns={"predicted": "paper_predicted", "actual": "paper_actual"})
    preds = preds.merge(ref, on=["task", "target"], how="left")
    return Reproduction(preds, fits, data, ladder)
