"""How far to trust a prediction: intervals, backtests and an automatic per-task pipeline.

* :class:`DesignModel` fits one pipeline (any of the paper's designs, or a direct
  power law on accuracy) and gives the standard deviation of its prediction: the
  jackknife over ladder runs for step 1 (leave one run out, refit, carry through
  step 2), the delta method for step 2, and the checkpoint-to-checkpoint noise of
  the accuracy.
* :func:`backtest` holds out the largest rungs (by N, and by compute), refits each
  pipeline on the rest and scores it on the held-out runs' final accuracy.
* :func:`auto_predict` weights the pipelines of each task by inverse backtest mean
  squared error (nothing about the target is used) and forms the interval from the
  weighted mixture of the pipelines' bootstrap draws, each widened by its own
  backtest error scaled to the extrapolation distance.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from .analyses import DESIGNS
from .chain import Ladder, TaskPredictor, as_ladder
from .datasets import Target
from .errors import FitWarning, TaskladderError
from .laws import AccuracyPowerLaw, PowerLaw, SingleStep
from .tasks import ACC, chance

#: Every pipeline scored by the backtest: the paper's five and a direct power law on accuracy.
ALL_DESIGNS = (*DESIGNS, "acc_power")
FINAL_WINDOW = 5


def jackknife_predictions(law, X: Sequence[np.ndarray], y: np.ndarray) -> list:
    """Leave-one-out refits of a law (each started from the full fit's parameters)."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            clone = type(law)(p0=law.result_.x)
            if hasattr(law, "chance"):
                clone.chance = law.chance
            try:
                out.append(clone.fit(*[x[keep] for x in X], y[keep]))
            except TaskladderError:
                continue
    return out


def jackknife_sd(values: np.ndarray) -> float:
    """Jackknife standard error from leave-one-out estimates (Efron & Stein, 1981)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    n = len(v)
    return float(np.sqrt((n - 1) / n * np.sum((v - v.mean()) ** 2))) if n > 1 else 0.0


class DesignModel:
    """One pipeline fitted to one task, able to predict and to sample with its fit uncertainty."""

    def __init__(self, design: str, task: str):
        if design not in ALL_DESIGNS:
            raise TaskladderError(f"unknown design {design!r}; choose from {', '.join(ALL_DESIGNS)}")
        self.design = design
        self.task = task

    def fit(self, ladder) -> DesignModel:
        lad = as_ladder(ladder)
        cfg = DESIGNS.get(self.design)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            if cfg is not None:
                self.chain_ = TaskPredictor(self.task, cfg).fit(lad)
                self.flags_ = self.chain_.flags_
            else:
                pts = lad.final_points(self.task, ACC, FINAL_WINDOW)
                law = SingleStep(chance=chance(self.task)) if self.design == "single_step" else AccuracyPowerLaw()
                self.law_ = law.fit(pts["n"], pts["d"], pts["value"])
                self.points_ = pts
                self.flags_ = law.flags_
        # Checkpoint-to-checkpoint noise of the accuracy: the SD of each run's last
        # checkpoints around their mean, pooled; a target's "actual" shares it.
        sds = [np.std(s.value[-10:]) for s in lad.series(self.task, ACC) if len(s.value) >= 3]
        self.ckpt_sd_ = float(np.median(sds)) if sds else 0.0
        return self

    def predict(self, n, d) -> float:
        if hasattr(self, "chain_"):
            return float(self.chain_.predict(n, d))
        return float(self.law_.predict(n, d))

    def _jackknife(self) -> list:
        if not hasattr(self, "jk_"):
            if hasattr(self, "chain_"):
                c, s1 = self.chain_, self.chain_.step1_data_
                X = (s1["n"].to_numpy(float), s1["d"].to_numpy(float))
                if not isinstance(c.step1_, PowerLaw):
                    X = (6.0 * X[0] * X[1],)
                self.jk_ = jackknife_predictions(c.step1_, X, s1["value"].to_numpy(float))
            else:
                self.jk_ = []  # one-step baselines: their backtest error stands for their uncertainty
        return self.jk_

    def sd(self, n, d) -> float:
        """Standard deviation of the prediction at (n, d).

        Step-1 fit uncertainty by the jackknife over ladder runs, carried through
        step 2; step-2 fit uncertainty by the delta method; and the checkpoint
        noise of the accuracy that a target's "actual" (mean of its last 5
        checkpoints) carries.  The one-step baselines (single_step, acc_power) get
        checkpoint noise only: their refits are too slow to repeat per run, and
        their backtest error, added by :func:`auto_predict`, dominates anyway.
        """
        var = self.ckpt_sd_ ** 2 / FINAL_WINDOW
        if hasattr(self, "chain_"):
            c = self.chain_
            at = (n, d) if isinstance(c.step1_, PowerLaw) else (6.0 * n * d,)
            feats = np.array([float(j.predict(*at)) for j in self._jackknife()])
            var += jackknife_sd(c.step2_.predict(feats)) ** 2
            lo, hi = c.step2_.predict_interval(float(c.predict_feature(n, d)), level=0.6826894921370859)
            var += ((hi - lo) / 2) ** 2
        return float(np.sqrt(var))


def _log_center(runs: pd.DataFrame) -> float:
    """Mean log training compute (N D) of a set of runs: where the fit is anchored."""
    return float(np.mean(np.log(runs["n"].astype(float) * runs["d"].astype(float))))


def _holdouts(ladder: Ladder, k: int) -> list[tuple[str, list[str]]]:
    runs = ladder.results.groupby("run").agg(n=("n", "first"), d=("d", "max"))
    runs["c"] = runs["n"].astype(float) * runs["d"].astype(float)
    by_n = runs.sort_values(["n", "d"]).index[-k:].tolist()
    by_c = runs.sort_values("c").index[-k:].tolist()
    return [("N", by_n), ("compute", by_c)]


def backtest(ladder, tasks: Iterable[str], designs: Sequence[str] = ALL_DESIGNS, holdout: int = 4,
             level: float = 0.9, coverage: bool = True) -> pd.DataFrame:
    """Score every pipeline on the largest rungs held out (by N and by compute).

    Each pipeline is refitted on the remaining runs and predicts each held-out run's
    final accuracy (mean of its last 5 checkpoints), and whether the pipeline's own
    fit-uncertainty interval (:meth:`DesignModel.sd`, at ``level``) covered it
    (``coverage=False`` skips that, and the jackknife refits it needs).
    Columns: split, run, task, design, predicted, actual, abs_error (points),
    relative_error, covered, ckpt_sd (the run's accuracy noise), log_extrapolation
    (log of the held-out run's compute N D over the training runs' mean log compute).
    """
    lad = as_ladder(ladder)
    rows = []
    for split, held in _holdouts(lad, holdout):
        train = Ladder(lad.results[~lad.results["run"].isin(held)])
        if train.results["run"].nunique() < 6:
            raise TaskladderError(f"backtest needs at least {holdout + 6} runs to hold out {holdout}")
        tr = train.results.groupby("run").agg(n=("n", "first"), d=("d", "max"))
        c_train = _log_center(tr)
        for task in tasks:
            finals = lad.final_points(task, ACC, FINAL_WINDOW).set_index("run")
            noise = {s.run: float(np.std(s.value[-10:])) for s in lad.series(task, ACC)}
            for design in designs:
                try:
                    m = DesignModel(design, task).fit(train)
                except TaskladderError:
                    continue
                for run in held:
                    r = finals.loc[run]
                    pred = m.predict(r["n"], r["d"])
                    covered = bool(abs(pred - r["value"]) <= z(level) * m.sd(r["n"], r["d"])) if coverage else None
                    rows.append({"split": split, "run": run, "task": task, "design": design, "predicted": pred,
                                 "actual": r["value"], "abs_error": abs(pred - r["value"]) * 100,
                                 "relative_error": abs(pred - r["value"]) / r["value"], "covered": covered,
                                 "ckpt_sd": noise.get(run, np.nan),
                                 "log_extrapolation": float(np.log(r["n"] * r["d"]) - c_train)})
    return pd.DataFrame(rows)


def design_weights(bt: pd.DataFrame) -> pd.DataFrame:
    """Per task: each pipeline's backtest RMSE and its inverse-MSE weight (summing to 1)."""
    g = bt.groupby(["task", "design"], sort=False)
    out = g.apply(lambda x: pd.Series({
        "rmse": float(np.sqrt(np.mean(np.square(x["predicted"] - x["actual"])))),
        "log_extrapolation": float(x["log_extrapolation"].mean())}), include_groups=False).reset_index()
    out["weight"] = 1.0 / np.maximum(out["rmse"], 1e-4) ** 2
    out["weight"] /= out.groupby("task")["weight"].transform("sum")
    return out


@dataclass
class AutoResult:
    predictions: pd.DataFrame
    weights: pd.DataFrame
    backtest: pd.DataFrame


def auto_predict(ladder, targets: Iterable[Target], tasks: Iterable[str], level: float = 0.9, B: int = 20_000,
                 designs: Sequence[str] = ALL_DESIGNS, seed: int = 0, progress=None) -> AutoResult:
    """The automatic prediction: backtest-weighted pipelines with a mixture interval.

    For each task the pipelines are weighted by inverse backtest MSE on the ladder.
    The central value is the weighted mean of their predictions.  The interval is
    the central ``level`` mass of the weighted mixture of normals, one per pipeline,
    centred on its prediction with variance = its fit and checkpoint variance
    (:meth:`DesignModel.sd`) + its misspecification: its backtest RMSE scaled by the
    ratio of the target's log-extrapolation in compute to the backtest's, since the
    error of a wrong functional form grows with how far one extrapolates.  The
    mixture is evaluated by drawing ``B`` points.
    """
    lad = as_ladder(ladder)
    targets, tasks = list(targets), list(tasks)
    rng = np.random.default_rng(seed)
    bt = backtest(lad, tasks, designs, coverage=False)
    w = design_weights(bt)
    c_center = _log_center(lad.results.groupby("run").agg(n=("n", "first"), d=("d", "max")))
    rows = []
    for task in tasks:
        wt = w[w["task"] == task].set_index("design")
        models = {d: DesignModel(d, task).fit(lad) for d in wt.index}
        for t in targets:
            ext = np.log(float(t.n) * float(t.d)) - c_center
            preds, sds = {}, {}
            for d, m in models.items():
                preds[d] = m.predict(t.n, t.d)
                scale = max(ext / wt.loc[d, "log_extrapolation"], 1.0)
                sds[d] = float(np.hypot(m.sd(t.n, t.d), wt.loc[d, "rmse"] * scale))
            # inverse-variance weights: backtest error and fit instability both count
            inv = {d: 1.0 / max(v, 1e-4) ** 2 for d, v in sds.items()}
            tw = {d: v / sum(inv.values()) for d, v in inv.items()}
            draws = np.concatenate([preds[d] + sds[d] * rng.standard_normal(int(round(tw[d] * B))) for d in preds])
            center = float(sum(tw[d] * p for d, p in preds.items()))
            lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
            actual = t.actual(task, ACC)
            rows.append({"task": task, "target": t.name, "predicted": center, "lower": float(lo),
                         "upper": float(hi), "actual": actual,
                         "abs_error": None if actual is None else abs(center - actual) * 100,
                         "covered": None if actual is None else bool(lo <= actual <= hi),
                         "pipeline": "weighted: " + ", ".join(
                             f"{d} {w_:.2f}" for d, w_ in sorted(tw.items(), key=lambda kv: -kv[1]) if w_ >= 0.05),
                         "top_pipeline": max(tw, key=tw.get), "weights": tw,
                         "design_predictions": preds})
        if progress is not None:
            progress()
    return AutoResult(pd.DataFrame(rows), w, bt)


def interval_from_samples(samples: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def z(level: float) -> float:
    return float(norm.ppf(0.5 + level / 2))
