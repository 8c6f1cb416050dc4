"""The bundled targets read backwards (docs/reach.md): each target's own actual accuracies as goals,
along its own tokens per parameter; where the answer lands against the target's real compute.

    python scripts/reach_targets.py
"""

from __future__ import annotations

import warnings

import numpy as np

import taskladder
from taskladder.datasets import olmo2_ladder
from taskladder.tasks import PAPER_TASKS


def main() -> None:
    warnings.simplefilter("ignore")
    held = ratios = open_above = 0
    found = []
    for name, t in olmo2_ladder().targets.items():
        true_c = 6.0 * t.n * t.d
        goals = {task: t.actual(task) for task in PAPER_TASKS}
        goals["mean"] = float(np.mean(list(goals.values())))
        got = taskladder.compute_to_reach(goals, tasks="paper", d=f"{t.d / (20 * t.n)}xC").set_index("task")
        print(f"{name} ({t.d / (20 * t.n):.1f}xC, {true_c:.3g} FLOPs, N {t.n:.3g})")
        print(f"  {'task':14s} {'goal':>5s} {'compute / true':>15s} {'range / true':>16s} {'N found':>8s}")
        for task, r in got.iterrows():
            lo = r["compute_lower"] if r["reached_lower"] == "yes" else 0.0
            hi = r["compute_upper"] if r["reached_upper"] == "yes" else np.inf
            ratio = r["compute"] / true_c
            print(f"  {task:14s} {100 * r['goal']:5.1f} {ratio:14.2f}x {lo / true_c:7.2f}x-{hi / true_c:6.2f}x "
                  f"{r['n']:8.3g}")
            if task != "mean":
                held += lo <= true_c <= hi
                ratios += 1
                found.append(ratio)
                open_above += not np.isfinite(hi)
    print(f"per task: compute found {min(found):.2f}x-{max(found):.2f}x the true compute; ranges holding it "
          f"{held} / {ratios}; open above {open_above} / {ratios}")


if __name__ == "__main__":
    main()
