"""How long the reproduce job takes: fit + predict for 8 tasks x 2 targets.

Baseline, run in the same process: the same recipe written the way the paper's
released scripts compute it, a Python loop over points for the Huber loss and its
gradient (one function call per point and per evaluation), with the same optimiser
settings.  Both must give the same predictions; the figure printed last is the
speed-up of taskladder over that baseline.

    python benchmarks/reproduce_speed.py
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
from scipy.optimize import curve_fit, minimize

from taskladder.chain import Ladder, predict_targets
from taskladder.datasets import olmo2_ladder
from taskladder.errors import FitWarning
from taskladder.tasks import ACC, BPB, PAPER_TASKS, chance


def _loop_huber_fit(xs, ys):
    """Step 1 as a per-point Python loop (the released scripts' style)."""
    delta = 1e-3

    def f(x, p):
        return np.exp(p[0] - np.log(x[0]) * p[2]) + np.exp(p[1] - np.log(x[1]) * p[3]) + p[4]

    def g(x, p):
        tn, td = np.exp(p[0] - np.log(x[0]) * p[2]), np.exp(p[1] - np.log(x[1]) * p[3])
        return [tn, td, -np.log(x[0]) * tn, -np.log(x[1]) * td, 1.0]

    def h(r):
        return 0.5 * r * r if abs(r) < delta else delta * (abs(r) - 0.5 * delta)

    def loss(p):
        return sum(h(np.log(f(x, p)) - np.log(y)) for x, y in zip(xs, ys))

    def jac(p):
        preds = [f(x, p) for x in xs]
        grads = [g(x, p) for x in xs]
        us = [np.log(pr) - np.log(y) for pr, y in zip(preds, ys)]
        gu = [u if abs(u) < delta else delta * np.sign(u) for u in us]
        return np.array([sum(a / pr * gr[i] for a, pr, gr in zip(gu, preds, grads)) for i in range(5)])

    res = minimize(loss, [3.0, 6.0, 0.1, 0.2, 1.0], jac=jac, method="L-BFGS-B", bounds=[(0, None)] * 5,
                   tol=0.0, options={"ftol": 0.0, "gtol": 1e-10, "maxiter": 1_000_000})
    return res.x


def _sigmoid(x, a, x0, k, b):
    return a / (1 + np.exp(-k * (x - x0))) + b


def baseline(data) -> list[float]:
    """The whole job, baseline style: rebuild per-task series from the table each time."""
    df = data.ladder
    out = []
    for task in PAPER_TASKS:
        xs, ys = [], []
        for run, g in df[(df.task == task) & (df.metric == BPB)].groupby("run"):
            g = g.sort_values("step")
            xs.append([g["n"].iloc[0], g["d"].iloc[-1]])
            ys.append(g["value"].iloc[-5:].mean())
        p = _loop_huber_fit(xs, ys)
        lx, ly = [], []
        for run in df["run"].unique():
            lo = df[(df.run == run) & (df.task == task) & (df.metric == BPB)].sort_values("step")["value"].to_numpy()
            ac = df[(df.run == run) & (df.task == task) & (df.metric == ACC)].sort_values("step")["value"].to_numpy()
            k = int(np.ceil(0.1 * len(lo)))
            for arr, dst in ((lo[k:], lx), (ac[k:], ly)):
                c = np.cumsum(arr)
                c[5:] = c[5:] - c[:-5]
                dst += list(c / np.minimum(np.arange(1, len(arr) + 1), 5))
        lx.append(0.0)
        ly.append(1.0)
        q, _ = curve_fit(_sigmoid, lx, ly, p0=[chance(task) - 1, 0.9, 3.0, 1.0],
                         bounds=([-1, 0, 0, 0], [0, np.inf, np.inf, 1]), maxfev=500_000)
        for t in ("7B-4T", "13B-5T"):
            tg = data.targets[t]
            L = np.exp(p[0] - np.log(tg.n) * p[2]) + np.exp(p[1] - np.log(tg.d) * p[3]) + p[4]
            out.append(float(_sigmoid(L, *q)))
    return out


def ours(data) -> list[float]:
    from taskladder import cache

    cache.forget()  # fit every law again: a repeat would otherwise take the last call's laws from memory
    preds, _ = predict_targets(Ladder(data.ladder), [data.targets["7B-4T"], data.targets["13B-5T"]], PAPER_TASKS)
    return preds["predicted"].tolist()


def best_of(fn, data, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(data)
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    warnings.simplefilter("ignore", FitWarning)
    os.environ["TASKLADDER_NO_CACHE"] = "1"  # time the fits themselves, not the on-disk cache
    t = time.perf_counter()
    data = olmo2_ladder()
    load = time.perf_counter() - t
    t_ours, p_ours = best_of(ours, data, 5)
    t_base, p_base = best_of(baseline, data, 2)
    diff = np.max(np.abs(np.array(p_ours) - np.array(p_base))) * 100
    print(f"bundled data load (once):       {load * 1000:8.1f} ms")
    print(f"taskladder fit+predict (8x2):   {t_ours * 1000:8.1f} ms")
    print(f"loop-style baseline (8x2):      {t_base * 1000:8.1f} ms")
    print(f"max prediction difference:      {diff:8.4f} points")
    print(f"speedup={t_base / t_ours:.1f}x seconds={t_ours:.3f}")


if __name__ == "__main__":
    main()
