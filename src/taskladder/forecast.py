"""Forecast a running target from its own checkpoints, anchored on the ladder.

Before a large run starts the ladder predicts it (:mod:`taskladder.chain`); once it
runs, its own evaluations say how far the ladder's curve is off for this model.
The forecast keeps the ladder's *shape* and takes the *level* from the target:

1. **Task loss.** The ladder's step-1 law L(N, D) describes finished runs.  A run
   in progress sits above that curve: its learning rate has not decayed yet.  How
   far above, as a function of the fraction f = D / D_end of the run done, is
   learned from the ladder's own runs (the *schedule lag* lag(f), pooled over tasks
   and sizes, from the ladder runs whose Chinchilla multiple is nearest the
   target's, since the lag depends on the schedule's length).  The target's offset
   from the ladder is the mean of log(L_obs / L(N, d)) - lag(d / D_end) over its
   most recent checkpoints, plus half its trend in log tokens carried to the end;
   the forecast loss is L(N, D_end) exp(offset).
2. **Accuracy.** Step 2 (the ladder's sigmoid) maps the forecast loss to accuracy,
   shifted by the target's own mean residual acc_obs - Acc(L_obs) over the same
   recent checkpoints (paper appendix B.2 refits step 2 on the target's
   checkpoints; a shift is the one-parameter version that a few noisy points can
   carry).
3. **Interval.** The loss forecast's error, as a function of f, is measured by
   replaying every ladder run of the matching multiple with its size left out of
   the fit (leave-one-size-out); its ``level`` quantile gives the loss band, carried
   through step 2's slope and combined with how far the offset and the shift have
   been drifting, the size of the schedule correction, the standard error of the
   shift and the checkpoint noise of the "actual" (a mean of 5 checkpoints).  A
   split-conformal factor from the same replays widens the band where it was too
   narrow on them.  The interval is built on the logit scale, so it stays in (0, 1).

The method was chosen by replaying the bundled 7B-4T and 13B-5T logs
(:func:`forecast_backtest`) and the ladder's own runs; docs/forecast.md has the
figures and the variants that lost.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statistics import NormalDist

from .chain import PAPER, Ladder, as_ladder, fit_predictor, ladder_span
from .datasets import ACTUAL_WINDOW, END_SLACK
from .errors import FitWarning, InputWarning, TaskladderError, did_you_mean, listed
from .ladder import chinchilla_multiple
from .laws import PowerLaw
from .predictor import duplicate_note, early_note, gap_note, short_note
from .results import parse_run_name
from .tasks import ACC, BPB, EVERY, PAPER_TASKS, choose_tasks
from .units import percent

#: Fractions of the forecast horizon at which the ladder's runs are replayed for calibration.
CALIBRATION_FRACS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class ForecastConfig:
    """How a running target is forecast (defaults chosen by backtest, docs/forecast.md)."""

    level: float = 0.9
    """Level of the intervals."""
    anchor_frac: float = 1 / 3
    """The target's offset from the ladder is averaged over this most recent share of its checkpoints."""
    min_anchor: int = 3
    """... and over at least this many checkpoints."""
    min_checkpoints: int = 3
    """Fewer checkpoints (with tokens > 0) before the cut are refused."""
    lag_bins: int = 20
    """Bins of the run fraction f in which the ladder's schedule lag is a median."""
    offset_trend: float = 0.5
    """Weight of the loss offset's trend in log tokens, extrapolated to the end (0: a constant offset;
    0.5 won the leave-one-size-out replays of the ladder's runs, docs/forecast.md)."""
    shift_trend: float = 0.0
    """Weight of the accuracy shift's trend in log tokens, extrapolated to the end (0: a constant shift)."""
    schedule: bool = True
    """Correct for the learning-rate schedule (the lag of a run in progress); False: a constant offset."""

    def __post_init__(self):
        if not 0.0 < self.level < 1.0:
            raise TaskladderError(f"level must be between 0 and 1, got {self.level}")
        if not 0.0 < self.anchor_frac <= 1.0:
            raise TaskladderError(f"anchor_frac must be in (0, 1], got {self.anchor_frac}")
        if self.min_anchor < 1 or self.min_checkpoints < 1:
            raise TaskladderError("min_anchor and min_checkpoints must be at least 1")
        if self.min_checkpoints < self.min_anchor:
            raise TaskladderError("min_checkpoints must be at least min_anchor")
        if self.lag_bins < 2:
            raise TaskladderError(f"lag_bins must be at least 2, got {self.lag_bins}")


def _run_multiples(lad: Ladder) -> dict[str, float]:
    """Chinchilla multiple of each ladder run: from its name (``190M-5xC``) or its final D / 20 N."""
    out = {}
    for run, g in lad.results.groupby("run"):
        m = parse_run_name(str(run))[1]
        out[str(run)] = m if m is not None else round(chinchilla_multiple(float(g["n"].iloc[0]), float(g["d"].max())), 1)
    return out


def _nearest(values: Iterable[float], x: float) -> float:
    vals = sorted(set(values))
    return min(vals, key=lambda v: abs(np.log(v) - np.log(x)))


class LagCurve:
    """Schedule lag: log(L_run(f D) / L_finished(f D)) of a run at fraction f, from ladder runs.

    ``runs`` are the ladder runs to learn from; each run's own final residual is
    removed first, so lag(1) = 0 by construction.  Pooled over ``tasks`` (the lag
    is a property of the schedule, nearly the same for every task: docs/forecast.md).
    """

    def __init__(self, lad: Ladder, step1: Mapping[str, PowerLaw], runs: set[str], bins: int):
        fs, os_ = [], []
        for task, law in step1.items():
            for s in lad.series(task, BPB):
                ok = s.d > 0  # a step-0 checkpoint (no tokens yet) has no place on the curve
                if s.run not in runs or ok.sum() < 2:
                    continue
                d, v = s.d[ok], s.value[ok]
                o = np.log(v / law.predict(s.n, d))
                fs.append(d / d[-1])
                os_.append(o - o[-ACTUAL_WINDOW:].mean())
        if not fs:
            raise TaskladderError("a forecast learns how a run's task loss approaches its end from the ladder runs' "
                                  "checkpoints, and no ladder run has 2 with task loss (bpb) on these tasks "
                                  "(scored only at their ends?); predict gives the target's final accuracy")
        f, o = np.concatenate(fs), np.concatenate(os_)
        edges = np.linspace(0.0, 1.0, bins + 1)
        mids, meds = [], []
        for a, b in zip(edges[:-1], edges[1:]):
            m = (f > a) & (f <= b)
            if m.any():
                mids.append((a + b) / 2)
                meds.append(float(np.median(o[m])))
        self.f_ = np.r_[mids, 1.0]
        self.lag_ = np.r_[meds, 0.0]

    def __call__(self, f) -> np.ndarray:
        return np.interp(np.asarray(f, float), self.f_, self.lag_)


def _lag_curves(lad: Ladder, step1: Mapping[str, PowerLaw], multiples: Mapping[str, float],
                bins: int) -> dict[float, LagCurve]:
    """One lag curve per Chinchilla multiple, each from the runs of that multiple."""
    return {m: LagCurve(lad, step1, {r for r, v in multiples.items() if v == m}, bins)
            for m in sorted(set(multiples.values()))}


def _trend(d: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope of ``y`` in log tokens over the run so far and its standard error (first 10% left out, as in step 2)."""
    j = int(np.ceil(0.1 * len(d)))
    x, y = np.log(d[j:]), y[j:]
    if len(x) < 3 or np.ptp(x) == 0:
        return 0.0, 0.0
    xc = x - x.mean()
    b = float(xc @ (y - y.mean()) / (xc @ xc))
    resid = y - y.mean() - b * xc
    return b, float(np.sqrt(resid @ resid / (len(x) - 2) / (xc @ xc)))


def _anchor(d: np.ndarray, loss: np.ndarray, acc: np.ndarray, d_end: float, law: PowerLaw, step2, lag,
            n: float, cfg: ForecastConfig) -> dict:
    """Offset of the observed run from the ladder, and the forecast loss and accuracy shift."""
    k = len(d)
    w = slice(k - min(k, max(cfg.min_anchor, int(np.ceil(cfg.anchor_frac * k)))), k)
    lag_all = lag(d / d_end) if lag is not None else np.zeros(k)
    off_all = np.log(loss / law.predict(n, d)) - lag_all
    offset = float(np.mean(off_all[w]))
    shift_all = acc - step2.predict(loss)
    ahead = float(np.log(d_end) - np.mean(np.log(d[w])))
    off_trend, off_se = _trend(d, off_all)
    trend, trend_se = _trend(d, shift_all)
    offset += cfg.offset_trend * off_trend * ahead
    return {"offset": offset, "loss": float(law.predict(n, d_end) * np.exp(offset)),
            "shift": float(np.mean(shift_all[w])) + cfg.shift_trend * trend * ahead, "window": k - w.start,
            # how far the offset and the shift may move before the end, judged by their trends so far
            "drift": (abs(trend) + trend_se) * ahead, "loss_drift": (abs(off_trend) + off_se) * ahead,
            # the schedule correction applied at the anchor: as uncertain as it is large, since
            # the target's schedule need not be the ladder's
            "schedule": float(abs(np.mean(lag_all[w]))),
            # residual spread of the accuracy around step 2 on the recent half of the run
            "shift_sd": float(np.std(shift_all[k // 2:], ddof=1)) if k - k // 2 > 1 else 0.0,
            "noise_sd": float(np.std(np.diff(acc[k // 2:]), ddof=1) / np.sqrt(2)) if k - k // 2 > 2 else 0.0}


class Calibration:
    """Errors of the forecast on the ladder's own runs, replayed leave-one-size-out.

    ``errors`` holds one row per (held-out run, task, fraction seen): the run's
    Chinchilla ``multiple``, ``frac``, the loss forecast's ``log_error``, what the
    accuracy band is built from (``slope_loss`` = step 2's slope x the forecast loss,
    ``shift_se``, ``drift``, ``noise_sd``) and the accuracy forecast's ``acc_error``.
    Quantiles and conformal factors are computed once per (task, multiple, level).
    """

    def __init__(self, errors: pd.DataFrame, pooled: Sequence[str]):
        self.errors = errors
        self.pooled = list(pooled)
        self._cache: dict = {}

    def _nearest(self, multiple: float) -> float:
        # the distinct multiples, found once (this runs for every band of every task)
        if "multiples" not in self._cache:
            self._cache["multiples"] = sorted(set(self.errors["multiple"]))
        return _nearest(self._cache["multiples"], multiple)

    def _rows(self, multiple: float, tasks: Sequence[str]) -> pd.DataFrame:
        e = self.errors[self.errors["task"].isin(tasks)]
        return e[e["multiple"] == _nearest(e["multiple"], multiple)]

    def _loss_table(self, multiple: float, level: float) -> tuple[np.ndarray, np.ndarray]:
        key = ("loss", self._nearest(multiple), level)
        if key not in self._cache:
            e = self._rows(multiple, self.pooled)
            fr = np.array(sorted(e["frac"].unique()))
            self._cache[key] = fr, np.array([np.quantile(np.abs(e.loc[e["frac"] == x, "log_error"]), level)
                                             for x in fr])
        return self._cache[key]

    def loss_quantile(self, multiple: float, frac: float, level: float) -> float:
        """The ``level`` quantile of |log error| of the loss at ``frac``.

        Pooled over the calibration tasks (a fixed set, so no task's band depends on
        which others are asked for), runs of the nearest Chinchilla multiple; beyond
        the replayed fractions it is the value at the nearest one (never extrapolated to 0).
        """
        fr, q = self._loss_table(multiple, level)
        return float(np.interp(frac, fr, q))

    def scale(self, task: str, multiple: float, level: float) -> float:
        """Split-conformal factor of one task: the ``level`` quantile of |accuracy error| / raw half-width.

        Normalised scores let runs of different noise share one factor (locally
        weighted conformal prediction, Lei et al., 2018); it absorbs what the raw band
        misjudges for this task, e.g. a non-monotonic task's erratic accuracy.
        """
        key = ("scale", task, self._nearest(multiple), level)
        if key not in self._cache:
            e = self._rows(multiple, [task])
            self._cache[key] = _conformal(np.abs(e["acc_error"].to_numpy()) / np.maximum(self._raw(e, multiple, level),
                                                                                        1e-9), level)
        return self._cache[key]

    def _raw(self, e: pd.DataFrame, multiple: float, level: float) -> np.ndarray:
        """Each replay row's raw half-width at ``level`` (:func:`_half`, before any conformal factor)."""
        q = np.array([self.loss_quantile(multiple, f, level) for f in e["frac"]])
        return _half(e["slope_loss"].to_numpy(), q, e["shift_se"].to_numpy(), e["drift"].to_numpy(),
                     e["noise_sd"].to_numpy(), level, e["loss_drift"].to_numpy(), e["schedule"].to_numpy())


    def mean_scale(self, tasks: Sequence[str], multiple: float, level: float) -> float:
        """Split-conformal factor of the mean over ``tasks``: the ``level`` quantile, over the
        replays (held-out run, fraction seen) that forecast every one of them, of |the mean of their
        accuracy errors| / the mean's raw half-width, which takes the tasks' raw half-widths as
        independent (root of their sum of squares over K).  Errors the tasks share on a run show
        in the scores and widen the band (at least 1, as :meth:`scale`)."""
        key = ("mean", tuple(tasks), self._nearest(multiple), level)
        if key not in self._cache:
            e = self._rows(multiple, tasks)
            g = e.assign(sq=self._raw(e, multiple, level) ** 2).groupby(["run", "frac"])
            full = (g["task"].nunique() == len(set(tasks))).to_numpy()
            raw = np.sqrt(g["sq"].sum().to_numpy()[full]) / len(tasks)
            self._cache[key] = _conformal(np.abs(g["acc_error"].mean().to_numpy()[full]) / np.maximum(raw, 1e-9),
                                          level)
        return self._cache[key]


def _conformal(scores: np.ndarray, level: float) -> float:
    """The finite-sample split-conformal quantile of ``scores``, the ceil((k + 1) level)-th smallest
    (1 without scores), widened only: at least 1, since the ladder's replays share its schedule and
    cannot vouch for a narrower band on a target whose schedule may differ."""
    score = np.sort(scores)
    c = float(score[min(len(score) - 1, int(np.ceil((len(score) + 1) * level)) - 1)]) if len(score) else 1.0
    return max(c, 1.0)


def _half(slope_loss, q, shift_se, drift, noise_sd, level: float, loss_drift=0.0, schedule=0.0):
    """Raw half-width at ``level``: the loss band through step 2, the accuracy shift's standard error
    and its drift to the end, the noise of an actual that is a mean of 5 checkpoints."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return np.sqrt((slope_loss * q) ** 2 + (slope_loss * loss_drift) ** 2 + (slope_loss * schedule) ** 2
                   + (z * shift_se) ** 2 + drift ** 2
                   + (z * noise_sd) ** 2 / ACTUAL_WINDOW)


class Forecaster:
    """Fitted ladder side of a forecast: step 1/2 per task, schedule lags and their calibration.

    Depends only on the ladder, so one fit serves every forecast of every target.

    Parameters
    ----------
    tasks : tasks to forecast.
    config : :class:`ForecastConfig`.

    Fitted attributes: ``predictors_`` (task -> :class:`TaskPredictor`, the paper's
    design), ``multiples_`` (run -> Chinchilla multiple), ``lags_`` (multiple ->
    :class:`LagCurve`), ``calibration_`` (:class:`Calibration`).
    """

    def __init__(self, tasks: Sequence[str], config: ForecastConfig = ForecastConfig()):
        self.tasks = list(tasks)
        self.config = config

    def fit(self, ladder) -> Forecaster:
        lad = as_ladder(ladder)
        # Lags and loss bands are pooled over a fixed set of tasks, the paper's that the
        # ladder has, so a task's forecast never depends on which other tasks are asked for.
        pooled = [t for t in PAPER_TASKS if lad.has(t, BPB) and lad.has(t, ACC)] or list(self.tasks)
        self.calibration_tasks_ = pooled
        every = list(dict.fromkeys([*pooled, *self.tasks]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            # the paper's chain of each task, shared through the cache with predict and reproduce
            self.predictors_ = {t: fit_predictor(lad, t, PAPER) for t in every}
        self.multiples_ = _run_multiples(lad)
        step1 = {t: self.predictors_[t].step1_ for t in pooled}
        self.lags_ = _lag_curves(lad, step1, self.multiples_, self.config.lag_bins)
        self.calibration_ = self._calibrate(lad, pooled, every)
        return self

    def lag(self, multiple: float) -> LagCurve | None:
        """The lag curve of the ladder runs nearest in Chinchilla multiple (None without the correction)."""
        return self.lags_[_nearest(self.lags_, multiple)] if self.config.schedule else None

    def _calibrate(self, lad: Ladder, pooled: Sequence[str], every: Sequence[str]) -> Calibration:
        """Replay each ladder run at CALIBRATION_FRACS with its size left out of step 1 and the lag curves."""
        sizes = lad.results.groupby("size")["n"].first().sort_values().index.tolist()
        rows = []
        for size in sizes:
            rest = Ladder(lad.results[lad.results["size"] != size])
            if rest.results["run"].nunique() < PowerLaw.n_params + 1:
                continue
            held = set(lad.results.loc[lad.results["size"] == size, "run"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FitWarning)
                step1 = {}
                for t in every:
                    pts = rest.final_points(t, BPB, PAPER.final_window)
                    # warm-started at the full ladder's optimum, stopped at 1e-10 relative decrease:
                    # replays need the refit's forecast to ~1e-6, not the optimum to machine precision
                    law = PowerLaw(n_starts=0, p0=self.predictors_[t].step1_.result_.x, ftol=1e-10)
                    step1[t] = law.fit(pts["n"], pts["d"], pts["value"])
            mults = {r: m for r, m in self.multiples_.items() if r not in held}
            lags = _lag_curves(rest, {t: step1[t] for t in pooled}, mults, self.config.lag_bins)
            for t in every:
                step2 = self.predictors_[t].step2_
                accs = {s.run: s for s in lad.series(t, ACC)}
                for s in lad.series(t, BPB):
                    if s.run not in held or s.run not in accs:
                        continue
                    m = self.multiples_[s.run]
                    lag = lags[_nearest(lags, m)] if self.config.schedule else None
                    common, il, ia = np.intersect1d(s.step, accs[s.run].step, return_indices=True)
                    ok = s.d[il] > 0
                    d, v, acc = s.d[il][ok], s.value[il][ok], accs[s.run].value[ia][ok]
                    actual_l = float(v[-ACTUAL_WINDOW:].mean())
                    actual_a = float(acc[-ACTUAL_WINDOW:].mean())
                    for frac in CALIBRATION_FRACS:
                        cut = d <= frac * d[-1]
                        if cut.sum() < self.config.min_checkpoints:
                            continue
                        a = _anchor(d[cut], v[cut], acc[cut], d[-1], step1[t], step2, lag, s.n, self.config)
                        rows.append({"run": s.run, "task": t, "multiple": m, "frac": frac,
                                     "log_error": float(np.log(a["loss"] / actual_l)),
                                     "slope_loss": _slope(step2, a["loss"]) * a["loss"],
                                     "shift_se": a["shift_sd"] / np.sqrt(a["window"]), "drift": a["drift"],
                                     "loss_drift": a["loss_drift"], "schedule": a["schedule"],
                                     "noise_sd": a["noise_sd"],
                                     "acc_error": float(step2.predict(a["loss"]) + a["shift"] - actual_a)})
        if not rows:
            raise TaskladderError("forecast calibration needs a ladder of at least 2 sizes with 6+ runs outside each")
        return Calibration(pd.DataFrame(rows), pooled)

    def forecast_task(self, task: str, log, n: float, d_end: float, raw: dict | None = None) -> dict:
        """Forecast one task at ``d_end`` tokens from the target's tidy log (its checkpoints so
        far; a DataFrame, or a :class:`Ladder` of it to index it once for several tasks).
        ``raw``, if given, keeps the task's half-width before its conformal factor, for the mean
        over tasks (:func:`mean_forecast`)."""
        cfg = self.config
        p = self.predictors_[task]
        log = as_ladder(log)
        step_l, d_l, loss = _series(log, task, BPB)
        step_a, _, acc = _series(log, task, ACC)
        _, il, ia = np.intersect1d(step_l, step_a, return_indices=True)  # checkpoints with both
        ok = d_l[il] > 0
        il, ia = il[ok], ia[ok]
        if len(il) < cfg.min_checkpoints:
            raise TaskladderError(
                f"task {task!r}: the target's log has {len(il)} checkpoint(s) past step 0 with both task loss and "
                f"accuracy (up to --upto's cut, if given); a forecast needs at least {cfg.min_checkpoints}")
        d = d_l[il]
        seen = float(d[-1])
        if seen > d_end >= (1 - END_SLACK) * seen:  # '5T' for a run whose log ends at 5.0001T: that end
            d_end = seen
        if d_end < seen:
            raise TaskladderError(f"the forecast tokens {d_end:.6g} lie before the log's last checkpoint ({seen:.6g})")
        mult = chinchilla_multiple(n, d_end)
        lag = self.lag(mult)
        a = _anchor(d, loss[il], acc[ia], d_end, p.step1_, p.step2_, lag, n, cfg)
        frac = seen / d_end
        cal = self.calibration_
        q = cal.loss_quantile(mult, frac, cfg.level) if frac < 1.0 else 0.0
        center = float(p.step2_.predict(a["loss"]) + a["shift"])
        unscaled = float(_half(_slope(p.step2_, a["loss"]) * a["loss"], q, a["shift_sd"] / np.sqrt(a["window"]),
                               a["drift"], a["noise_sd"], cfg.level, a["loss_drift"], a["schedule"]))
        if raw is not None:
            raw[task] = unscaled
        half = float(cal.scale(task, mult, cfg.level) * unscaled)
        lo, hi = _logit_interval(center, half)
        return {"task": task, "tokens": d_end, "seen_tokens": seen, "seen_frac": frac, "checkpoints": len(il),
                "predicted": min(max(center, 1e-6), 1 - 1e-6), "lower": lo, "upper": hi,
                "predicted_loss": a["loss"], "loss_lower": a["loss"] * np.exp(-q), "loss_upper": a["loss"] * np.exp(q),
                "ladder_predicted": float(p.predict(n, d_end)), "ladder_loss": float(p.predict_feature(n, d_end)),
                "offset": a["offset"], "shift": a["shift"], "level": cfg.level,
                "calibration": f"loss band: {percent(cfg.level)} quantile of leave-one-size-out replays of the ladder's "
                               f"{_nearest(self.lags_, mult):g}xC runs at {frac:.0%} seen"}


def _slope(step2, L: float) -> float:
    h = 1e-4 * max(abs(L), 1e-3)
    return (step2.predict(L + h) - step2.predict(L - h)) / (2 * h)


def _logit_interval(center: float, half: float) -> tuple[float, float]:
    """center +- half, built on the logit scale (delta method), so it stays inside (0, 1)."""
    c = min(max(center, 1e-6), 1 - 1e-6)
    h = half / (c * (1 - c))
    lc = np.log(c / (1 - c))
    return float(1 / (1 + np.exp(-(lc - h)))), float(1 / (1 + np.exp(-(lc + h))))


def _series(log: Ladder, task: str, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One (task, metric) of a target's log in step order: (step, d, value) arrays, empty when
    the log has none (its runs' :meth:`Ladder.series` together; a target's log is one run)."""
    if not log.has(task, metric):
        return np.empty(0, np.int64), np.empty(0), np.empty(0)
    ss = log.series(task, metric)
    if len(ss) == 1:
        return ss[0].step, ss[0].d, ss[0].value
    step = np.concatenate([s.step for s in ss])
    o = np.argsort(step, kind="stable")
    return step[o], np.concatenate([s.d for s in ss])[o], np.concatenate([s.value for s in ss])[o]


def truncate(log: pd.DataFrame, upto: float, where: str = "the log") -> pd.DataFrame:
    """The first ``upto`` fraction of a target's log: checkpoints with step <= upto x its last step."""
    if not (np.isfinite(upto) and 0.0 < upto <= 1.0):
        raise TaskladderError(f"--upto must be a fraction in (0, 1] of {where}'s steps, got {upto!r}"
                              + (" (a cut beyond the log)" if np.isfinite(upto) and upto > 1 else ""))
    last = int(log["step"].max())
    cut = log[log["step"] <= upto * last]
    if cut.empty:  # said here: a Ladder of it would say "the ladder results are empty"
        first = int(log["step"].min())
        raise TaskladderError(f"--upto {upto:g} keeps no checkpoint of {where}: its first is at step {first:,}, "
                              f"{first / last:.0%} of its last ({last:,})")
    return cut


@dataclass
class ForecastResult:
    forecasts: pd.DataFrame
    """One row per task (columns in :meth:`Forecaster.forecast_task`, plus actual and errors)."""
    observed: pd.DataFrame = field(repr=False)
    """The target's log up to the cut (tidy), for figures."""
    hidden: pd.DataFrame | None = field(default=None, repr=False)
    """The log beyond the cut in replay mode, for figures."""
    n: float = 0.0
    name: str = ""
    forecaster: Forecaster | None = field(default=None, repr=False)
    """The fitted ladder side, reusable for further forecasts on the same ladder."""
    mean: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The mean over the tasks with its own interval (:func:`mean_forecast`); empty for one task."""


def forecast(ladder, log: pd.DataFrame, n: float, tokens: float | None = None, upto: float | None = None,
             tasks: Sequence[str] | None = None, config: ForecastConfig = ForecastConfig(),
             forecaster: Forecaster | None = None, name: str = "target",
             final: pd.DataFrame | None = None) -> ForecastResult:
    """Forecast a target at ``tokens`` (default: its log's last checkpoint) from its log so far.

    ``upto`` replays a finished log: only its first ``upto`` fraction of steps is
    used, and the forecast is checked against the log's actual (mean of its last 5
    checkpoints) whenever the log goes past the cut and ``tokens`` is its end.
    ``final``: the run's evaluations at its end where the log stops short of it (tidy; the
    bundled 7B-4T's final checkpoint lies 1.7% past its log), so a forecast at their tokens is
    checked against the actual ``predict`` shows for the run.
    """
    where = log.attrs.get("source", name)  # the log's file, where it was read from one (target_log)
    if log.empty:
        raise TaskladderError(f"{where}: the target's log is empty")
    full = log[log["d"] > 0] if (log["d"] > 0).any() else log
    cut = truncate(log, upto) if upto is not None else log
    end = float(full["d"].max())
    d_end = float(tokens) if tokens is not None else end
    if not tasks or EVERY in tasks:
        have = [t for t in cut["task"].unique() if forecastable(cut, t)]
        if not have:
            raise TaskladderError(f"{where}: the log holds no task with both task loss (bpb) and accuracy")
        tasks = choose_tasks(tasks, have)  # the paper's it has, else any known, else its own; 'all': every one
    else:  # a name as the tables print it ('ARC-Challenge') is the log's task
        tasks = choose_tasks(tasks, log["task"].unique())
    for t in tasks:
        if not forecastable(log, t):
            have = listed(sorted(u for u in log["task"].unique() if forecastable(log, u)), 12) or "none"
            if not (log["task"] == t).any():
                raise TaskladderError(f"{where}: task {t!r} is not in the log{did_you_mean(t, log['task'].unique())} "
                                      f"(tasks with bpb and accuracy: {have})")
            missing = BPB if not ((log["task"] == t) & (log["metric"] == BPB)).any() else ACC
            raise TaskladderError(f"{where}: the log has no {missing!r} values for task {t!r} "
                                  f"(tasks with bpb and accuracy: {have})")
    if forecaster is not None and not set(tasks) <= set(forecaster.tasks):
        raise TaskladderError(f"the forecaster was fitted for {', '.join(forecaster.tasks)}, not {', '.join(tasks)}")
    if forecaster is None:
        # the ladder side depends on the ladder, the tasks and the config only: cached on disk
        from . import cache

        lad = as_ladder(ladder)
        own = sorted(set(lad.runs) & set(log["run"].astype(str)))
        if own:  # its checkpoints so far would be fitted as a finished rung, and its end as the ladder's
            warnings.warn(f"the ladder holds the target's own run {', '.join(map(repr, own))}: left out of the "
                          "ladder's fits", InputWarning, stacklevel=2)
            lad = lad.without(own)
        # what the ladder cannot tell, as predict says it: a run still training (the lag curves
        # and step 1 take its unannealed end as final), a task missing from some runs or ending early
        span = ladder_span(lad)
        for note in [duplicate_note(span), short_note(span)] + [f(span, t) for f in (gap_note, early_note)
                                                                  for t in tasks]:  # no c4 pipeline
            if note:
                warnings.warn(note, InputWarning, stacklevel=2)
        k = cache.key("forecaster", lad.results, tuple(tasks), config)
        forecaster = cache.cached(k, lambda: Forecaster(tasks, config).fit(lad))
    fc = forecaster
    rows = []
    # the logs indexed by (task, metric) once for every task; the whole log only to check a
    # replay that stops before its end against the log's actual
    seen = Ladder(cut)
    past = upto is not None and upto < 1.0 and cut["step"].max() < log["step"].max()
    whole = Ladder(full) if past and d_end == end else None
    # the run's final checkpoints, where they lie past its log (the bundled 7B-4T's): their tokens
    at = float(final["d"].max()) if final is not None and not final.empty else None
    at = at if at is not None and at > end else None
    last = Ladder(final) if at is not None and abs(d_end - at) <= END_SLACK * at else None
    if last is not None:  # the run's end, past its log: the actual predict shows for it
        whole, past = last, False
        warnings.warn(f"{where}: checked against the run's final checkpoint at {d_end:.4g} tokens (the actual "
                      f"'predict' shows), {d_end / end - 1:.1%} past its log's last ({end:.4g}): the forecast sees "
                      "nothing of that stretch, where a schedule may end in a decay", InputWarning, stacklevel=2)
    elif at is not None and d_end == end:  # the log's end is checked, not the run's: said, as predict shows the other
        warnings.warn(f"{where}: the forecast is for its log's last checkpoint at {end:.4g} tokens, {at / end - 1:.1%} "
                      f"before the run's final one (the actual 'predict' shows); --tokens {at:.4g} forecasts that",
                      InputWarning, stacklevel=2)
    if past and whole is None:  # a replay asked for another point, e.g. the run's nominal 4T for a log ending at 3.88T
        beyond = f" or at the run's final checkpoint past it (--tokens {at:.4g})" if at is not None else ""
        warnings.warn(f"{where}: the log goes on past the --upto cut to {end:.4g} tokens, but the forecast is for "
                      f"{d_end:.4g}, so it has no actual to be checked against; a forecast is checked at the "
                      f"log's end (without --tokens){beyond}", InputWarning, stacklevel=2)
    raw: dict = {}
    for t in tasks:
        r = fc.forecast_task(t, seen, n, d_end, raw)
        actual = actual_loss = None
        if whole is not None:
            a, l_ = _series(whole, t, ACC)[2], _series(whole, t, BPB)[2]
            actual, actual_loss = float(a[-ACTUAL_WINDOW:].mean()), float(l_[-ACTUAL_WINDOW:].mean())
        r.update({"target": name, "actual": actual, "actual_loss": actual_loss,
                  "abs_error": None if actual is None else abs(r["predicted"] - actual) * 100,
                  "ladder_abs_error": None if actual is None else abs(r["ladder_predicted"] - actual) * 100,
                  "covered": None if actual is None else bool(r["lower"] <= actual <= r["upper"])})
        rows.append(r)
    hidden = log[log["step"] > cut["step"].max()] if upto is not None else None
    if last is not None:  # the final checkpoint, drawn beside the log's own
        hidden = pd.concat([h for h in (hidden, final) if h is not None], ignore_index=True)
    mean = pd.DataFrame([mean_forecast(rows, raw, fc, n, d_end)] if len(tasks) > 1 else [])
    return ForecastResult(pd.DataFrame(rows), cut, hidden, n, name, fc, mean)


def mean_forecast(rows: list[dict], raw: dict, fc: Forecaster, n: float, d_end: float) -> dict:
    """The mean over the forecast tasks (``rows``, :meth:`Forecaster.forecast_task`'s with the
    actuals): the mean of their forecasts, its half-width the root of the sum of their raw
    half-widths squared over K (independent errors) times the mean's own split-conformal factor
    (:meth:`Calibration.mean_scale`), on the logit scale; the mean of the actuals where every task
    has one.  Measured on the bundled logs: docs/forecast.md, "The mean over tasks"."""
    from .aggregate import MEAN

    tasks = [r["task"] for r in rows]
    level = fc.config.level
    mult = chinchilla_multiple(n, d_end)
    c = fc.calibration_.mean_scale(tasks, mult, level)
    half = c * float(np.sqrt(sum(raw[t] ** 2 for t in tasks))) / len(tasks)
    center = float(np.mean([r["predicted"] for r in rows]))
    lo, hi = _logit_interval(center, half)
    actuals = [r["actual"] for r in rows]
    actual = None if any(a is None for a in actuals) else float(np.mean(actuals))
    ladder = float(np.mean([r["ladder_predicted"] for r in rows]))
    first = rows[0]
    return {"task": MEAN, "tasks": tasks, "target": first["target"], "tokens": first["tokens"],
            "seen_frac": first["seen_frac"], "predicted": center, "lower": lo, "upper": hi,
            "ladder_predicted": ladder, "level": level, "actual": actual,
            "abs_error": None if actual is None else abs(center - actual) * 100,
            "ladder_abs_error": None if actual is None else abs(ladder - actual) * 100,
            "covered": None if actual is None else bool(lo <= actual <= hi),
            "calibration": f"the tasks' raw bands as independent x the mean's own {percent(level)} split-conformal "
                           f"factor ({c:.2f}) from leave-one-size-out replays of the ladder's "
                           f"{_nearest(fc.lags_, mult):g}xC runs"}


def forecastable(log: pd.DataFrame, task: str) -> bool:
    """Whether a target's (tidy) log has both task loss and accuracy for ``task``, which a forecast needs."""
    m = log["task"] == task
    return bool((m & (log["metric"] == BPB)).any() and (m & (log["metric"] == ACC)).any())


def forecast_backtest(ladder, targets, fracs: Sequence[float] = (0.1, 0.25, 0.5, 0.75),
                      tasks: Sequence[str] | None = None, config: ForecastConfig = ForecastConfig(),
                      at_final: bool = False) -> pd.DataFrame:
    """Replay each target's full log cut at each fraction; forecast its last checkpoint.

    ``targets`` are :class:`~taskladder.datasets.Target` with a ``full`` log.  Rows as
    :func:`forecast`'s, with a ``upto`` column; compare ``abs_error`` with
    ``ladder_abs_error`` (the ladder alone) by fraction seen.  ``at_final``: forecast each
    target's own tokens instead, checked against its final checkpoints (``results``: the
    actual ``predict`` shows; 7B-4T's lie past its log), fraction 1 being the whole log.
    """
    tasks = list(tasks or PAPER_TASKS)
    fc = Forecaster(tasks, config).fit(ladder)
    frames = []
    for t in targets:
        if t.full is None or t.full.empty:
            raise TaskladderError(f"target {t.name!r} has no intermediate checkpoints to replay")
        for f in fracs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InputWarning)  # at_final: the note that the final is past the log
                res = forecast(None, t.full, t.n, tokens=t.d if at_final else None, upto=f if f < 1 else None,
                               tasks=tasks, forecaster=fc, name=t.name, final=t.results if at_final else None)
            frames.append(res.forecasts.assign(upto=f))
    return pd.concat(frames, ignore_index=True)


def backtest_summary(bt: pd.DataFrame) -> pd.DataFrame:
    """Per target and fraction seen: forecast MAE, ladder-only MAE, coverage, mean half-width (points)."""
    g = bt.assign(half=(bt["upper"] - bt["lower"]) * 50).groupby(["target", "upto"], sort=False)
    return g.agg(mae=("abs_error", "mean"), ladder_mae=("ladder_abs_error", "mean"),
                 coverage=("covered", "mean"), half_width=("half", "mean"), tasks=("task", "size")).reset_index()


def target_log(target: str | None = None, target_file=None, n: int | None = None,
               sizes: Mapping[str, int] | None = None) -> tuple[pd.DataFrame, int, str]:
    """The log of the target to forecast: a bundled target's full log, or a wide/long eval file.

    Returns (tidy log, N, name).
    """
    from pathlib import Path

    from .datasets import olmo2_ladder
    from .results import read_target_file

    if (target is None) == (target_file is None):
        raise TaskladderError("give one target: --target NAME (a bundled log) or --target-file FILE with --n")
    if target is not None:
        bundled = olmo2_ladder().targets
        if target not in bundled:
            raise TaskladderError(f"unknown target {target!r}{did_you_mean(target, bundled)}; "
                                  f"bundled targets: {', '.join(bundled)}")
        t = bundled[target]
        if n is not None:  # another N would forecast a different model from this run's log
            raise TaskladderError(f"--n goes with --target-file; the bundled target {target}'s N is known ({t.n:.4g})")
        return t.full, t.n, target
    path = Path(target_file)
    log = read_target_file(path, sizes=sizes, n=n)
    log.attrs["source"] = str(path)  # what forecast's errors about the log name
    return log, int(log["n"].iloc[0]), path.stem


def forecast_run(target: str | None = None, target_file=None, *, n: int | None = None, ladder=None,
                 sizes=None, mixed_conventions: bool = False, tokens: float | None = None,
                 upto: float | None = None, tasks: Sequence[str] | None = None,
                 config: ForecastConfig = ForecastConfig()) -> ForecastResult:
    """What ``taskladder forecast`` computes, from names and files: the log of a bundled
    ``target`` or a ``target_file`` (any format ``--ladder`` reads, or a tidy DataFrame), the
    ladder (:func:`serve.load_ladder`: None for the bundled one, files and folders, a tidy
    DataFrame) and an optional size table (the CSV's path)."""
    from .results import FRAME, check_target_log, load_sizes, long_frame_to_tidy
    from .serve import load_ladder

    table = load_sizes(sizes) if sizes is not None else None
    if isinstance(target_file, pd.DataFrame):  # a log in memory: checked as a target file is
        frame = target_file if n is None or "n" in target_file.columns else target_file.assign(n=n)
        log = check_target_log(long_frame_to_tidy(frame, FRAME, sizes=table), FRAME, n)
        log.attrs["source"] = "the target's log"
        n_, name = int(log["n"].iloc[0]), str(log["run"].iloc[0])
    else:
        log, n_, name = target_log(target, target_file, n, table)
    results = load_ladder(ladder, sizes, mixed_conventions)
    if tokens is not None:  # '2xC': of this run's N, known once its log is read
        from .units import resolve_tokens

        tokens = resolve_tokens(tokens, n_)
    final = None
    if target is not None:  # a bundled target's final checkpoint, the actual predict shows (7B-4T's is past its log)
        from .datasets import olmo2_ladder

        final = olmo2_ladder().targets[target].results
    return forecast(results, log, n_, tokens=tokens, upto=upto, tasks=tasks, config=config, name=name, final=final)

