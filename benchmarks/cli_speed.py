"""Wall time and peak memory of the commands a user types, cold (empty cache) and warm.

Each command runs as a user runs it: a fresh process of the installed CLI, timed from
start to exit, its peak resident memory (the largest of it and its workers) read from
the OS.  "cold" starts each command from its own empty cache of fits; "warm" repeats it
(median of 3) in that cache, so the ladder's backtests, fits and bootstraps come from the
cache (taskladder.cache; a `predict` then answers from the fitted state alone, taskladder.serve).  The
in-process baseline is the paper's fixed design written the way its released scripts
compute it (benchmarks/reproduce_speed.py), for the same 8 tasks x 2 targets; ratios
are baseline time / command time.  The figure printed last is the warm prediction.

    python benchmarks/cli_speed.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

WRAP = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run(args: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak MB) of one command in a fresh process."""
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", WRAP, sys.executable, "-m", "taskladder.cli", *args],
                       capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - t, int(r.stdout.split()[-1]) / 1024


def main() -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from reproduce_speed import baseline

    from taskladder.datasets import olmo2_ladder

    warnings.simplefilter("ignore")
    data = olmo2_ladder()
    t = time.perf_counter()
    baseline(data)
    t_base = time.perf_counter() - t
    out = tempfile.mkdtemp()
    # two ladders to compare: the bundled one, and a copy whose PIQA accuracy is 2 points higher
    base, cand = Path(out) / "base.csv", Path(out) / "cand.csv"
    lad = data.ladder
    lad.to_csv(base, index=False)
    lad.assign(value=lad["value"] + 0.02 * ((lad["task"] == "piqa") & (lad["metric"] == "acc"))).to_csv(
        cand, index=False)
    rows = []
    for name, args in [("--help", ["--help"]),
                       ("data (describe the ladder)", ["data"]),
                       ("predict --paper", ["predict", "--n", "7B", "--tokens", "4T", "--paper"]),
                       ("predict (automatic)", ["predict", "--n", "7B", "--tokens", "4T"]),
                       ("predict --target 7B-4T", ["predict", "--target", "7B-4T"]),
                       ("forecast --upto 0.5", ["forecast", "--target", "7B-4T", "--upto", "0.5"]),
                       ("reach --accuracy 60", ["reach", "--accuracy", "60"]),
                       ("reach, the mean of 8", ["reach", "--accuracy", "mean=70"]),
                       ("compare (8 tasks, 2 ladders)", ["compare", str(base), str(cand), "--n", "7B", "--tokens",
                                                         "4T"]),
                       ("reproduce (all outputs)", ["reproduce", "--out", out])]:
        # each command starts from its own empty cache: cold means nothing fitted before, not
        # even by the commands above (reproduce also makes the automatic prediction)
        env = {**os.environ, "TASKLADDER_CACHE": tempfile.mkdtemp()}
        env.pop("TASKLADDER_NO_CACHE", None)
        cold = run(args, env)
        # warm: the median of 3 repeats (a sub-second command varies by ~0.1 s run to run here)
        warm = sorted((run(args, env) for _ in range(3)), key=lambda r: r[0])[1]
        rows.append((name, cold, warm))
    print(f"in-process baseline (paper's design, loop-style, 8 tasks x 2 targets): {t_base:.2f} s")
    print(f"{'command':29s} {'cold s':>7s} {'warm s':>7s} {'peak MB':>8s} {'baseline/warm':>14s}")
    for name, (tc, mc), (tw, mw) in rows:
        print(f"{name:29s} {tc:7.2f} {tw:7.2f} {max(mc, mw):8.0f} {t_base / tw:13.1f}x")
    warm_predict = {name: warm for name, _, warm in rows}["predict (automatic)"][0]
    print(f"predict_warm_s={warm_predict:.2f} ratio_vs_baseline={t_base / warm_predict:.1f}")


if __name__ == "__main__":
    main()
