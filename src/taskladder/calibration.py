"""How well the automatic prediction's intervals are calibrated, measured on the ladder itself.

A prediction extrapolates: from the ladder's runs to a target far beyond them.  The
whole automatic procedure (its own backtest, weights and interval) is replayed on
the ladder, many times over, each time predicting runs it did not see:

* **rolling origins**: fit on the runs of the smallest k sizes, predict every run of
  size k + 1 (every k that leaves at least 6 runs to fit a 5-parameter law);
* **top compute**: hold out the runs of the largest compute N·D;
* **largest multiple**: hold out every run of the largest Chinchilla multiple.

Splits whose training part is too small for the automatic choice (it backtests on
its own 4 largest rungs, so it needs 10 runs) are skipped, and so is a task on a split
where fewer than 10 of the training runs were scored on it (a warning names a task
that no split replays).  :func:`calibration_table`
then reports, per task and pooled, how often the intervals at 50/80/90/95% covered
the held-out runs' actual accuracy (mean of their last 5 checkpoints) and how wide
they were; each held-out run also records how far it was extrapolated (log of its
compute N·D over the training runs' mean log compute), to compare with a target's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .errors import InputWarning

MIN_TRAIN = 6  # runs a 5-parameter step-1 law needs, with one to spare


def _runs(results: pd.DataFrame) -> pd.DataFrame:
    from .chain import run_table

    runs = run_table(results)
    runs["mult"] = (runs["d"] / (20.0 * runs["n"])).round(1)
    return runs


def splits(results: pd.DataFrame) -> list[tuple[str, list[str], list[str]]]:
    """(name, held-out runs, training runs) of every split the ladder supports (see the
    module docstring).  A rolling origin trains on the smaller sizes only."""
    runs = _runs(results)
    sizes = sorted(runs["n"].unique())
    out = []
    for k in range(1, len(sizes)):
        train = runs[runs["n"] < sizes[k]]
        held = runs[runs["n"] == sizes[k]]
        if len(train) >= MIN_TRAIN and len(train["n"].unique()) >= 2:
            out.append((f"origin {k}", held.index.tolist(), train.index.tolist()))
    n_top = min(4, len(runs) - MIN_TRAIN)
    if n_top >= 1:
        top = runs.sort_values("c").index[-n_top:].tolist()
        out.append(("top compute", top, [r for r in runs.index if r not in top]))
    mults = sorted(runs["mult"].unique())
    if len(mults) >= 3:
        held = runs[runs["mult"] == mults[-1]].index.tolist()
        if len(runs) - len(held) >= MIN_TRAIN:
            out.append(("largest multiple", held, [r for r in runs.index if r not in held]))
    return out


LEVELS = (0.5, 0.8, 0.9, 0.95)
AUTO_MIN_RUNS = 10  # trust.auto_predict backtests on 4 held-out rungs of its own


def auto_splits(results: pd.DataFrame) -> list[tuple[str, list[str], list[str]]]:
    """The splits :func:`rolling_auto` replays: those leaving enough runs to train the automatic choice."""
    return [s for s in splits(results) if len(s[2]) >= AUTO_MIN_RUNS]


def rolling_auto(results: pd.DataFrame, tasks, levels=LEVELS, progress=None) -> pd.DataFrame:
    """The automatic prediction replayed on every split with enough training runs.

    One row per split, held-out run, task and level: predicted, lower, upper, actual,
    covered, half_width (points), log_extrapolation.  ``progress(share)``, if given, is
    called as each task of each split is fitted (a share of a task per pipeline, as
    :func:`trust.fit_states` reports it): len(auto_splits) x len(tasks) in all.
    """
    from .aggregate import MEAN, mean_rows
    from .chain import Ladder
    from .datasets import Target
    from .predictor import predict_rows
    from .tasks import ACC
    from .trust import fit_states

    runs = _runs(results)
    rows, replayed = [], set()
    for name, held, train_runs in auto_splits(results):
        lad = Ladder(results[results["run"].isin(train_runs)])
        targets = [Target(r, int(runs.loc[r, "n"]), int(runs.loc[r, "d"]), results[results["run"] == r])
                   for r in held]
        # a task scored on too few of this split's runs is not replayed on it (the ladder's
        # own prediction refuses it the same way)
        fit = [t for t in tasks if len(lad.runs_with(t, ACC)) >= AUTO_MIN_RUNS]
        replayed.update(fit)
        if progress is not None:
            for _ in range(len(tasks) - len(fit)):
                progress(1.0)
        # fitted once, then evaluated at every level exactly as trust.auto_predict would
        states = fit_states(lad, fit, progress=progress)
        for level in levels:
            # the tasks' rows, then the mean over them (taskladder.aggregate), replayed alike
            seen: dict = {}
            rows_ = predict_rows(states, fit, targets, level, seen)
            for r in [*rows_, *(mean_rows(states, fit, targets, level, seen) if len(fit) > 1 else [])]:
                if r["actual"] is None or r["actual"] != r["actual"]:
                    continue
                rows.append({"split": name, "run": r["target"], "task": r["task"], "level": level,
                             "predicted": r["predicted"], "lower": r["lower"], "upper": r["upper"],
                             "actual": r["actual"], "covered": bool(r["lower"] <= r["actual"] <= r["upper"]),
                             "half_width": 50 * (r["upper"] - r["lower"]),
                             # from the runs the task trained on (its state's), as its interval measures it
                             "log_extrapolation": float(np.log(runs.loc[r["target"], "c"]) - (
                                 states[r["task"]].log_center if r["task"] != MEAN
                                 else np.mean([states[t].log_center for t in fit])))})
    if skipped := [t for t in tasks if t not in replayed]:
        warnings.warn(f"not replayed on any split ({', '.join(skipped)}): every split leaves "
                      f"{'it' if len(skipped) == 1 else 'each'} fewer than {AUTO_MIN_RUNS} training runs scored on "
                      f"{'it' if len(skipped) == 1 else 'them'}", InputWarning, stacklevel=2)
    return pd.DataFrame(rows)


def splits_text(rolled: pd.DataFrame) -> str:
    """The splits replayed and how many held-out runs each had, e.g. "origin 3 (4 runs), ..."."""
    return ", ".join(f"{s} ({g['run'].nunique()} runs)" for s, g in rolled.groupby("split", sort=False))


def calibration_table(rolled: pd.DataFrame) -> pd.DataFrame:
    """Per task, pooled over the tasks ("all") and for the mean over them ("mean",
    :mod:`aggregate`: not part of "all"), per level: coverage, mean half-width (points) and count."""
    from .aggregate import MEAN

    agg = dict(coverage=("covered", "mean"), half_width=("half_width", "mean"), n=("covered", "size"))
    tasks = rolled[rolled["task"] != MEAN]
    per = tasks.groupby(["task", "level"], sort=False).agg(**agg).reset_index()
    pooled = tasks.groupby("level").agg(**agg).reset_index().assign(task="all")
    mean = rolled[rolled["task"] == MEAN].groupby(["task", "level"], sort=False).agg(**agg).reset_index()
    return pd.concat([per, pooled[per.columns], mean[per.columns]], ignore_index=True)
