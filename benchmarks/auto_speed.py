"""How long the whole reproduce job with intervals takes (8 tasks x 2 targets).

It runs the automatic prediction: backtests of six pipelines on the ladder's
largest rungs (by N and by compute), the fits of every pipeline, bootstrap fit
uncertainty and the intervals.  Baseline in the same process: the same
job on one process; the figure printed last is the speed-up from spreading tasks
over this machine's cores, and the wall time.

    python benchmarks/auto_speed.py
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np

from taskladder import cache
from taskladder.chain import Ladder
from taskladder.datasets import olmo2_ladder
from taskladder.errors import FitWarning
from taskladder.tasks import PAPER_TASKS
from taskladder.trust import auto_predict


def main():
    warnings.simplefilter("ignore", FitWarning)
    os.environ["TASKLADDER_NO_CACHE"] = "1"  # the cold path: every backtest, fit and bootstrap computed
    data = olmo2_ladder()
    lad = Ladder(data.ladder)
    targets = [data.targets["7B-4T"], data.targets["13B-5T"]]
    t = time.perf_counter()
    serial = auto_predict(lad, targets, PAPER_TASKS, n_jobs=1).predictions
    t_serial = time.perf_counter() - t
    cache.forget()  # the second run fits every law again rather than take the first's from memory
    t = time.perf_counter()
    par = auto_predict(lad, targets, PAPER_TASKS).predictions
    t_par = time.perf_counter() - t
    assert np.allclose(serial["predicted"], par["predicted"])
    mae = par.groupby("target")["abs_error"].mean()
    print(f"cores:                               {os.cpu_count()}")
    print(f"auto reproduce, one process:         {t_serial:6.2f} s")
    print(f"auto reproduce, all cores:           {t_par:6.2f} s")
    print(f"MAE 7B-4T / 13B-5T:                  {mae['7B-4T']:.2f} / {mae['13B-5T']:.2f} points, "
          f"{int(par['covered'].sum())}/16 actuals inside the 90% intervals")
    print(f"speedup={t_serial / t_par:.2f}x seconds={t_par:.2f}")


if __name__ == "__main__":
    main()
