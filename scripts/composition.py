"""How the automatic choice and the paper's fixed design fare on sub-ladders of the bundled one.

Issue 12 asks that a user who trains more rungs never gets a worse, overconfident
prediction.  This builds ladders of different composition from the 16 bundled runs
(all of them; one size dropped; one Chinchilla multiple dropped; only the two largest
sizes and the 10xC runs of the others; and 4 rungs of a larger size added, cut from the
7B target's own log)
and prints, for each, the mean absolute error of both methods on 7B-4T and 13B-5T,
how many of the 16 actuals the automatic 90% intervals cover, and the error and interval
of the mean over the 8 tasks (taskladder.aggregate).

    python scripts/composition.py
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from taskladder.analyses import DESIGNS
from taskladder.chain import Ladder, predict_targets
from taskladder.datasets import olmo2_ladder
from taskladder.errors import FitWarning
from taskladder.tasks import PAPER_TASKS
from taskladder.trust import auto_predict

def _with_7b_rungs(r, d):
    """The 16 runs plus 4 "7B" rungs cut from the 7B target's own log at 1/2/5/10 x 20N tokens
    (mid-run checkpoints, not annealed: a stand-in for runs of a larger size)."""
    full = d.targets["7B-4T"].full
    n = int(full["n"].iloc[0])
    parts = [r]
    for m in (1, 2, 5, 10):
        cut = full[full["d"] <= m * 20 * n].assign(run=f"7B-{m}xC", size="7B")
        parts.append(cut[r.columns])
    return pd.concat(parts, ignore_index=True)


SUBLADDERS = {
    "all 16 runs": lambda r: r,
    "no 1B (largest size)": lambda r: r[~r["run"].str.startswith("1B-")],
    "no 370M (a middle size)": lambda r: r[~r["run"].str.startswith("370M-")],
    "no 10xC (1/2/5xC only)": lambda r: r[~r["run"].str.endswith("-10xC")],
    "no 190M (the smallest size)": lambda r: r[~r["run"].str.startswith("190M-")],
    "no 760M": lambda r: r[~r["run"].str.startswith("760M-")],
    "no 1xC": lambda r: r[~r["run"].str.endswith("-1xC")],
    "no 2xC": lambda r: r[~r["run"].str.endswith("-2xC")],
    "no 5xC": lambda r: r[~r["run"].str.endswith("-5xC")],
    "760M and 1B, + 190M-10xC and 370M-10xC": lambda r: r[r["run"].str.startswith(("760M-", "1B-"))
                                                            | r["run"].str.endswith("-10xC")],
}
LARGER = "+ 7B rungs (cut from the 7B log)"


def main() -> pd.DataFrame:
    warnings.simplefilter("ignore", FitWarning)
    d = olmo2_ladder()
    targets = [d.targets["7B-4T"], d.targets["13B-5T"]]
    rows = []
    for name, pick in [*SUBLADDERS.items(), (LARGER, lambda r: _with_7b_rungs(r, d))]:
        lad = Ladder(pick(d.ladder))
        got = auto_predict(lad, targets, PAPER_TASKS)
        auto, mean = got.predictions, got.mean.set_index("target")
        paper, _ = predict_targets(lad, targets, PAPER_TASKS, DESIGNS["task_bpb"])
        for tgt in ("7B-4T", "13B-5T"):
            a, p = auto[auto["target"] == tgt], paper[paper["target"] == tgt]
            rows.append({"ladder": name, "runs": lad.results["run"].nunique(), "target": tgt,
                         "auto_mae": a["abs_error"].mean(), "paper_mae": p["abs_error"].mean(),
                         "covered": int(a["covered"].sum()), "half_width": 50 * (a["upper"] - a["lower"]).mean(),
                         # the mean over the 8 tasks (taskladder.aggregate): its error, half-width, covered
                         "mean_error": 100 * (mean.loc[tgt, "predicted"] - mean.loc[tgt, "actual"]),
                         "mean_half_width": 50 * (mean.loc[tgt, "upper"] - mean.loc[tgt, "lower"]),
                         "mean_covered": bool(mean.loc[tgt, "covered"])})
    out = pd.DataFrame(rows)
    with pd.option_context("display.width", 120):
        print(out.round(2).to_string(index=False))
    s = out.groupby("ladder", sort=False).agg(auto=("auto_mae", "mean"), paper=("paper_mae", "mean"),
                                              covered=("covered", "sum"))
    print(s.round(2).to_string())
    worst = float(np.max(s["auto"] - s["paper"]))
    print(f"auto minus paper, worst sub-ladder (points): {worst:+.2f}; fewest covered: {int(s['covered'].min())}/16")
    print(f"mean of the 8 tasks: {int(out['mean_covered'].sum())}/{len(out)} covered, mean half-width "
          f"{out['mean_half_width'].mean():.2f} points (the tasks': {out['half_width'].mean():.2f}), "
          f"RMS error {np.sqrt(np.mean(out['mean_error'] ** 2)):.2f}")
    return out


if __name__ == "__main__":
    main()
