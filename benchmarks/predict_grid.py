"""How fast the automatic prediction answers for many targets at once, warm (a notebook
loop or a dashboard plotting accuracy against compute).

The ladder's fits come from the cache (filled first, not timed); each call then predicts a
grid of targets (N from 1B to 70B, 20-200 tokens per parameter) for the paper's 8 tasks with
intervals.  Baseline in the same process: the paper's fixed pipeline for the same grid
(``design="task_bpb"``: one chained law per task, no interval).  The figure printed last is
the automatic prediction's time per target and its ratio to the baseline's; the line before it
times the fitted states' evaluation of all targets in one array pass against one at a time.

    python benchmarks/predict_grid.py [number of targets, default 100]
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

import numpy as np

import taskladder


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    warnings.simplefilter("ignore")
    k = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    n = np.geomspace(1e9, 7e10, k)
    d = n * np.geomspace(20, 200, k)[::-1]
    taskladder.predict(n[:1], d[:1])  # fills (or reads) the cache: not timed
    taskladder.predict(n[:1], d[:1], design="task_bpb")
    auto = timed(lambda: taskladder.predict(n, d))
    paper = timed(lambda: taskladder.predict(n, d, design="task_bpb"))
    one = timed(lambda: taskladder.predict("7B", "4T"))
    rows = len(taskladder.predict(n, d))
    # the states' evaluation alone, all targets in one array pass against one target at a time
    from taskladder.datasets import Target
    from taskladder.serve import auto_states, default_tasks

    _, states = auto_states(default_tasks(None, None, False, None))
    points = [Target(f"t{i}", a, b) for i, (a, b) in enumerate(zip(n, d))]
    batched = timed(lambda: [s.evaluate_many(points) for s in states.values()])
    looped = timed(lambda: [[s.evaluate(t) for t in points] for s in states.values()])
    print(f"{k} targets x 8 tasks = {rows} rows, warm, median of 5")
    print(f"one target, automatic:       {one * 1e3:7.1f} ms")
    print(f"paper's pipeline (baseline): {paper * 1e3:7.1f} ms  ({paper / k * 1e3:.2f} ms per target)")
    print(f"automatic, with intervals:   {auto * 1e3:7.1f} ms  ({auto / k * 1e3:.2f} ms per target)")
    print(f"the states' evaluation, one target at a time: {looped * 1e3:7.1f} ms; all at once: {batched * 1e3:.1f} ms "
          f"({looped / batched:.1f}x faster)")
    print(f"automatic per target: {auto / k * 1e3:.2f} ms, {auto / paper:.1f}x the paper pipeline's time")


if __name__ == "__main__":
    main()
