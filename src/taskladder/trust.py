"""How far to trust a prediction: intervals, backtests and an automatic per-task pipeline.

* :class:`DesignModel` fits one pipeline (any of the paper's designs, or a direct
  power law on accuracy) and gives the standard deviation of its prediction: a
  residual bootstrap of step 1 (refit, carry through step 2), a bootstrap of step 2
  over whole runs, and the checkpoint-to-checkpoint noise of the accuracy.
* :func:`backtest` holds out the largest rungs (by N, and by compute), refits each
  pipeline on the rest and scores it on the held-out runs' final accuracy.
* :func:`auto_predict` weights the pipelines of each task by inverse backtest mean
  squared error (nothing about the target is used); its interval combines the
  weighted mean's bootstrap SD with its own backtest error (:func:`model_error`),
  grown with the extrapolation distance.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .aggregate import mean_rows
from .analyses import DESIGNS
from .chain import Ladder, TaskPredictor, as_ladder, feature_key, fit_predictor
from .datasets import Target
from .errors import FitWarning, TaskladderError
from .laws import AccuracyPowerLaw, PowerLaw, SingleStep
from .predictor import (FINAL_WINDOW, INTERVAL_METHOD, ModelError, PipelineState, TaskState, applied_weights, expit,
                        by_reason, left_out_notes, logit, logit_sd, predict_rows, student_t_ppf)
from .refit import batched_huber_refit, batched_ls_refit
from .tasks import ACC, C4

__all__ = ["ALL_DESIGNS", "INTERVAL_METHOD", "DesignModel", "TaskFit", "auto_predict", "backtest", "backtest_summary",
           "backtest_table", "design_weights", "ensemble_errors", "fit_states", "missing_features", "model_error",
           "task_fits"]

#: Every pipeline scored by the backtest: the paper's five and a direct power law on accuracy.
ALL_DESIGNS = (*DESIGNS, "acc_power")


class DesignModel:
    """One pipeline fitted to one task, able to predict and to sample with its fit uncertainty."""

    def __init__(self, design: str, task: str, n_boot: int = 200, seed: int = 0, n_starts: int | None = None,
                 n_boot2: int = 100):
        self.n_boot = n_boot
        self.n_boot2 = n_boot2
        """Run-bootstrap refits of step 2 (its SD to ~7%; each refit weighs ~1,400 points)."""
        self.seed = seed
        self.n_starts = n_starts
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
                if self.n_starts is not None:  # the backtests' refits on part of the ladder
                    self.chain_ = TaskPredictor(self.task, replace(cfg, n_starts=self.n_starts)).fit(lad)
                else:  # shared with every command that fits this chain on this ladder
                    self.chain_ = fit_predictor(lad, self.task, cfg)
                self.flags_ = self.chain_.flags_
            else:
                pts = lad.final_points(self.task, ACC, FINAL_WINDOW)
                law = SingleStep(chance=lad.chance(self.task)) if self.design == "single_step" else AccuracyPowerLaw()
                # the single step keeps its multi-start in the backtests too: its default start is far
                # from the data (E = 0, the sigmoid at chance), and alone it can end at 4x the lowest
                # objective (PIQA 2 points higher without its largest-compute runs), which a comparison
                # of two ladders then reads as a difference that is not there (laws.SingleStep)
                if self.n_starts is not None and self.design != "single_step":
                    law.n_starts = min(law.n_starts, self.n_starts)
                self.law_ = law.fit(pts["n"], pts["d"], pts["value"])
                self.points_ = pts
                self.flags_ = law.flags_
        self.ckpt_sd_ = lad.accuracy_noise(self.task)  # a target's "actual" shares it
        return self

    def predict(self, n, d) -> float:
        if hasattr(self, "chain_"):
            return float(self.chain_.predict(n, d))
        return float(self.law_.predict(n, d))

    def _bootstrap(self) -> np.ndarray:
        """The law from (N, D) (step 1 of a chain, or a one-step pipeline's whole law) refitted
        to ``n_boot`` residual-bootstrap data sets (batched); a chain's step 2 to ``n_boot2``
        resamplings of the runs (:meth:`_step2_run_bootstrap`)."""
        if not hasattr(self, "boot_"):
            chain = hasattr(self, "chain_")
            law, pts = (self.chain_.step1_, self.chain_.step1_data_) if chain else (self.law_, self.points_)
            X = (pts["n"].to_numpy(float), pts["d"].to_numpy(float))
            if chain and not isinstance(law, PowerLaw):
                X = (6.0 * X[0] * X[1],)
            y = pts["value"].to_numpy(float)
            yhat = law.predict(*X)
            r = np.log(y) - np.log(yhat)
            r = (r - r.mean()) * np.sqrt(len(y) / max(len(y) - law.n_params, 1))
            # one seed for every pipeline of a task: draw b resamples the same residual positions
            rng = np.random.default_rng(self.seed)
            Y = yhat * np.exp(rng.choice(r, (self.n_boot, len(y))))
            from .cache import memo

            # one set of refits per (law, data): the C4-loss step 1 is the same for every task
            _, x0, bounds = law.coordinates(*X)
            # the one-step laws' refits crawl for thousands of iterations: they stop after 1,000
            # unpolished, their spread within 5% of the polished one's (docs/trust.md)
            key = ("boot1", type(law).__name__, law.delta, tuple(bounds), x0.tobytes(), *(x.tobytes() for x in X),
                   Y.tobytes(), chain)
            self.boot_ = memo(key, lambda: _read_only(
                batched_huber_refit(law, X, Y, max_iters=2000 if chain else 1000, polish=chain)))
            self.boot2_ = self._step2_run_bootstrap(rng) if chain else None
        return self.boot_

    def _step2_run_bootstrap(self, rng) -> np.ndarray:
        """Step 2 refitted to ``n_boot2`` resamplings of the ladder's runs (all of a run's
        checkpoints together): its points are ~1,000 overlapping, smoothed checkpoints of 16
        runs, so treating them as independent (the delta method) understated the step-2
        SD 3-8 fold (MMLU 0.13 vs 0.63 points at 7B-4T)."""
        c = self.chain_
        s2 = c.step2_data_
        law = c.step2_
        runs, idx = np.unique(s2["run"].to_numpy(), return_inverse=True)
        counts = rng.multinomial(len(runs), np.full(len(runs), 1.0 / len(runs)), size=self.n_boot2)
        W = counts[:, idx].astype(float)
        x, y = s2["x"].to_numpy(float), s2["y"].to_numpy(float)
        anchor = getattr(law, "anchor", None)
        if anchor is not None:  # the anchor point is part of every fit, once
            x, y = np.append(x, anchor[0]), np.append(y, anchor[1])
            W = np.column_stack([W, np.ones(self.n_boot2)])
        return batched_ls_refit(law, x, y, W)

    def sd(self, n, d) -> float:
        """Standard deviation of the prediction at (n, d) (:meth:`PipelineState.sd`).

        Step-1 fit uncertainty by a residual bootstrap of the step-1 law (``n_boot``
        refits), carried through step 2; step-2 fit uncertainty by a bootstrap over
        whole runs (``n_boot2`` refits, :meth:`_step2_run_bootstrap`); and the checkpoint
        noise of the accuracy that a target's "actual" (mean of its last 5
        checkpoints) carries.  The one-step pipelines (single_step, acc_power) get the
        residual bootstrap of their whole law: on a ladder whose held-out rungs they
        predict well, their backtest error says nothing of how far apart their refits
        land at a target 200x beyond it (docs/trust.md, "One-step pipelines").
        """
        return self.state().sd(n, d)

    def state(self, **backtest) -> PipelineState:
        """What predicting needs of this fit (bootstrap refits included), with the
        ``backtest`` fields of :class:`PipelineState` (rmse, log_extrapolation, backtest_weight)."""
        boot = self._bootstrap()
        if hasattr(self, "chain_"):
            c = self.chain_
            if c.config.step1 == "flops" and c.config.compute != "6nd":  # PipelineState computes C = 6 N D
                raise TaskladderError(f"design {self.design!r}: only C = 6ND is supported here")
            return PipelineState(self.design, c.step1_, c.step2_, not isinstance(c.step1_, PowerLaw), boot,
                                 self.boot2_, self.ckpt_sd_, self.dof_, **backtest)
        return PipelineState(self.design, self.law_, None, False, boot, None, self.ckpt_sd_, self.dof_, **backtest)

    @property
    def dof_(self) -> int:
        """Residual degrees of freedom of the law fitted on final checkpoints (runs - parameters)."""
        if hasattr(self, "chain_"):
            return max(len(self.chain_.step1_data_) - self.chain_.step1_.n_params, 1)
        return max(len(self.points_) - self.law_.n_params, 1)

    def interval(self, n, d, level: float = 0.9) -> tuple[float, float]:
        """Prediction +- t * sd, Student t with the step-1 fit's residual degrees of freedom.

        The SD is estimated from a handful of runs (16 on the bundled ladder, 11
        residual degrees of freedom for a 5-parameter law), so the t quantile, not
        the normal one, gives the nominal coverage (checked by simulation).
        """
        p, sd, q = self._t_band(n, d, level)
        return p - q * sd, p + q * sd

    def _t_band(self, n, d, level: float) -> tuple[float, float, float]:
        """Prediction, SD and the Student t quantile of ``level`` (the automatic interval's, without scipy)."""
        return self.predict(n, d), self.sd(n, d), student_t_ppf(0.5 + level / 2, self.dof_)

    def bounded_interval(self, n, d, level: float = 0.9) -> tuple[float, float]:
        """:meth:`interval` built on the logit scale (the SD matched in probability,
        :func:`predictor.logit_sd`), so it stays inside (0, 1) instead of being clipped there."""
        p, sd, q = self._t_band(n, d, level)
        s = logit_sd(p, sd)
        lo, hi = expit(np.array([logit(p) - q * s, logit(p) + q * s]))
        return float(lo), float(hi)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)  # shared between the tasks that share the fit
    return a


def _log_center(runs: pd.DataFrame) -> float:
    """Mean log training compute (N D) of a set of runs (:func:`chain.run_table`): where the fit is anchored."""
    return float(np.mean(np.log(runs["c"])))


#: The backtest's splits, in order: the largest runs by N, and by compute.
SPLITS = ("N", "compute")


def _task_runs(ladder: Ladder, task: str) -> pd.DataFrame:
    """:func:`chain.run_table` of the runs scored on ``task``'s accuracy, what every pipeline
    predicts: all runs of a complete ladder, fewer where a task was not evaluated on some."""
    runs = ladder.run_table
    have = ladder.runs_with(task, ACC)
    return runs if len(have) == len(runs) else runs.loc[runs.index.isin(have)]


def _holdouts(ladder: Ladder, k: int, task: str) -> list[tuple[str, list[str]]]:
    """The largest ``k`` runs by N and by compute among those scored on ``task``: a run the
    task was not evaluated on can neither be scored nor leave a gap in its training set."""
    runs = _task_runs(ladder, task)
    by_n = runs.sort_values(["n", "d"]).index[-k:].tolist()
    by_c = runs.sort_values("c").index[-k:].tolist()
    return list(zip(SPLITS, (by_n, by_c)))


def backtest(ladder, tasks: Iterable[str], designs: Sequence[str] = ALL_DESIGNS, holdout: int = 4,
             level: float = 0.9, coverage: bool = True) -> pd.DataFrame:
    """Score every pipeline on the largest rungs held out (by N and by compute).

    Each pipeline is refitted on the remaining runs and predicts each held-out run's
    final accuracy (mean of its last 5 checkpoints), and whether the pipeline's own
    fit-uncertainty interval (:meth:`DesignModel.sd`, at ``level``) covered it
    (``coverage=False`` skips that, and the bootstrap refits it needs).
    Columns: split, run, task, design, predicted, actual, abs_error (points),
    relative_error, covered, ckpt_sd (the run's accuracy noise), log_extrapolation
    (log of the held-out run's compute N D over the training runs' mean log compute).
    """
    lad = as_ladder(ladder)
    tasks = list(tasks)
    _check_holdout(lad, holdout, tasks)
    held_out = {task: _holdouts(lad, holdout, task) for task in tasks}
    rows = []
    for i in range(len(SPLITS)):
        for task in tasks:
            split, held = held_out[task][i]
            train = lad.without(held)
            c_train = _log_center(_task_runs(train, task))
            finals = lad.final_points(task, ACC, FINAL_WINDOW).set_index("run")
            noise = {s.run: float(np.std(s.value[-10:])) for s in lad.series(task, ACC)}
            for design in designs:
                try:
                    # Single-start fits in the backtest: a fit stuck in a poor optimum only
                    # inflates that pipeline's backtest error, lowering its weight (the safe
                    # direction); the fits used for predictions keep the multi-start.
                    m = DesignModel(design, task, n_starts=0).fit(train)
                except TaskladderError:
                    continue
                for run in held:
                    if run not in finals.index:  # a run not evaluated on this task: nothing to score
                        continue
                    r = finals.loc[run]
                    pred = m.predict(r["n"], r["d"])
                    if coverage:
                        lo, hi = m.interval(r["n"], r["d"], level)
                        covered = bool(lo <= r["value"] <= hi)
                    else:
                        covered = None
                    rows.append({"split": split, "run": run, "task": task, "design": design, "predicted": pred,
                                 "actual": r["value"], "abs_error": abs(pred - r["value"]) * 100,
                                 "relative_error": abs(pred - r["value"]) / r["value"], "covered": covered,
                                 "ckpt_sd": noise.get(run, np.nan),
                                 "log_extrapolation": float(np.log(r["n"] * r["d"]) - c_train)})
    return pd.DataFrame(rows)


def backtest_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (task, pipeline) of a :func:`backtest_table`: mean absolute and relative error,
    the share of held-out runs inside the pipeline's interval, and the held-out runs'
    mean checkpoint SD (how predictable they were at all)."""
    return table.groupby(["task", "design"], sort=False).agg(
        abs_error=("abs_error", "mean"), relative_error=("relative_error", "mean"),
        coverage=("covered", "mean"), predictability_sd=("ckpt_sd", "mean")).reset_index()


def backtest_table(ladder, tasks: Sequence[str], designs: Sequence[str] = ALL_DESIGNS, holdout: int = 4,
                   level: float = 0.9, n_jobs: int | None = None, progress=None) -> pd.DataFrame:
    """:func:`backtest` with each pipeline's coverage (what ``taskladder backtest`` prints),
    computed one job per (task, pipeline) over the cores and cached per task like the
    automatic choice's fits: the same rows in the same order.  ``progress(share)`` is called
    as each pipeline of a task finishes."""
    lad = as_ladder(ladder)
    tasks, designs = list(tasks), tuple(designs)
    _check_holdout(lad, holdout, tasks)  # before any work
    splits = list(SPLITS)
    tables = _per_task(lad, tasks, designs, ("backtest", holdout, level), _backtest_design, (holdout, level),
                       lambda task, parts: _split_major([parts[d] for d in designs], splits), n_jobs, progress)
    # backtest()'s order: split, then task, then pipeline, then run
    return _split_major([tables[t] for t in tasks], splits)


def _per_task(lad: Ladder, tasks: list[str], designs: tuple, kind: tuple, fn, args: tuple, finish, n_jobs, progress):
    """Each task's ``finish(task, {design: fn(lad, task, design, *args)})``, cached per task (key:
    ``kind``, the ladder's content, the task and the designs) and computed one job per (task,
    pipeline) over the cores (:func:`_over_cores`): a single task (`--task piqa`) uses every core
    too, and 8 tasks x 6 pipelines balance better than 8 tasks of unequal cost.  ``progress()``
    is called once for a cached task and ``progress(1 / len(designs))`` as each job ends."""
    from . import cache

    keys = {t: cache.key(kind[0], lad.content_hash, t, designs, *kind[1:]) for t in tasks}
    out = {t: cache.load(k) for t, k in keys.items()}
    missing = [t for t in tasks if out[t] is None]
    if missing:  # another process asked the same: wait for its entries, not fit them again
        with cache.computing(cache.key(kind[0], lad.content_hash, tuple(tasks), designs, *kind[1:])):
            out.update({t: cache.load(keys[t]) for t in missing})
            _compute_missing(lad, out, keys, designs, fn, args, finish, n_jobs, progress)
    elif progress is not None:
        for t in tasks:
            progress()
    return out


#: Each pipeline's share of a cold automatic fit's CPU (8 tasks of the bundled ladder, measured
#: 2026-12-07): the one-step laws and TaskCE's log-sigmoid cost the most, C4's shared fit the least.
_JOB_COST = {"acc_power": 0.32, "taskce": 0.21, "single_step": 0.20, "task_bpb": 0.14, "flops": 0.08, "c4": 0.05}


def _compute_missing(lad: Ladder, out: dict, keys: dict, designs: tuple, fn, args: tuple, finish, n_jobs, progress):
    """:func:`_per_task`'s fits of the tasks ``out`` holds None for, filled into ``out`` and stored as each ends."""
    from . import cache

    if progress is not None:
        for t in out:
            if out[t] is not None:
                progress()
    parts: dict[str, dict] = {t: {} for t in out if out[t] is None}
    # the costliest pipelines first (longest-job-first), so the last jobs left to the workers are
    # short and no core idles long at the end; results do not depend on the order
    order = sorted(designs, key=lambda d: _JOB_COST.get(d, 0.0), reverse=True)
    jobs = [(t, d, *args) for d in order for t in parts]
    for (t, d, *_), part in _over_cores(lad, fn, jobs, n_jobs):
        parts[t][d] = part
        if progress is not None:  # a share of the task per pipeline: a single task's bar moves too
            progress(1.0 / len(designs))
        if len(parts[t]) == len(designs):
            out[t] = finish(t, parts.pop(t))
            cache.store(keys[t], out[t])


def _check_holdout(lad: Ladder, holdout: int, tasks: Iterable[str]) -> None:
    # the 5-parameter step 1 needs more runs than parameters
    _check_runs(lad, tasks, holdout + 6, f"backtest needs at least {holdout + 6} ladder runs to hold out {holdout}")


def _check_runs(lad: Ladder, tasks: Iterable[str], need: int, why: str, hint: str = "") -> None:
    """Refuse a ladder, or a task scored on too few of its runs, with fewer than ``need`` runs."""
    n_runs = lad.results["run"].nunique()
    if n_runs < need:
        raise TaskladderError(f"{why}, the ladder has {n_runs}{hint}")
    for task in tasks:
        have = lad.runs_with(task, ACC)
        if 0 < len(have) < need:
            raise TaskladderError(f"{why}, and task {task!r} was scored on {len(have)} of the ladder's {n_runs} runs"
                                  f"; leave it out of --task{hint}")


def _backtest_design(lad: Ladder, task: str, design: str, holdout: int, level: float) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)  # the backtest scores the fits; their flags are elsewhere
        return backtest(lad, [task], [design], holdout=holdout, level=level)


def _split_major(frames: list[pd.DataFrame], splits: list[str]) -> pd.DataFrame:
    """The frames stacked in order, then ordered by split (stable: each split keeps their order)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    order = np.argsort(out["split"].map({s: k for k, s in enumerate(splits)}).to_numpy(), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def design_weights(bt: pd.DataFrame) -> pd.DataFrame:
    """Per task: each pipeline's backtest RMSE and its inverse-MSE weight (summing to 1)."""
    # plain numpy per group: groupby.apply building a Series per group cost ~25 ms a call, and
    # the automatic choice calls this 3 times per task in the parent while the workers fit
    err = bt["predicted"].to_numpy(float) - bt["actual"].to_numpy(float)
    ext = bt["log_extrapolation"].to_numpy(float)
    rows = [(task, design, float(np.sqrt(np.mean(np.square(err[ix])))), float(np.mean(ext[ix])))
            for (task, design), ix in bt.groupby(["task", "design"], sort=False).indices.items()]
    out = pd.DataFrame(rows, columns=["task", "design", "rmse", "log_extrapolation"])
    out["weight"] = 1.0 / np.maximum(out["rmse"], 1e-4) ** 2
    out["weight"] /= out.groupby("task")["weight"].transform("sum")
    return out


@dataclass
class AutoResult:
    predictions: pd.DataFrame
    weights: pd.DataFrame
    """The weights applied, per task, target and pipeline (:func:`predictor.applied_weights`)."""
    backtest: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    """The pipelines left out for lack of data (:func:`predictor.left_out_notes`)."""
    mean: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per target, the mean over the tasks with its own interval (:func:`aggregate.mean_rows`);
    empty for a single task."""


def auto_predict(ladder, targets: Iterable[Target], tasks: Iterable[str], level: float = 0.9,
                 designs: Sequence[str] = ALL_DESIGNS, n_jobs: int | None = None, progress=None) -> AutoResult:
    """The automatic prediction: pipelines weighted per task by backtest, with an interval.

    Per task, each pipeline's weight is its inverse backtest MSE; the central value is the
    weighted mean of the pipelines' predictions.  The interval is that mean +- Student t x SD
    on the logit scale (so it stays inside (0, 1)), the SD combining the weighted mean's
    bootstrap SD (:func:`predictor.fit_variance`) and its own backtest error
    (:func:`model_error`), grown with the target's extrapolation distance
    (:meth:`predictor.TaskState.predict`).  Nothing about the targets' actual values is used.

    Each (task, pipeline) is fitted as one job over ``n_jobs`` processes (default: all
    cores); the output does not depend on how many.  ``progress(share)``, if given, is called
    with a task's share (1 / the pipelines) as each job ends, and with 1 for a cached task.
    """
    targets, tasks = list(targets), list(tasks)
    fitted = _fitted(as_ladder(ladder), tasks, tuple(designs), n_jobs, progress)
    states = {t: f.state for t, f in fitted.items()}
    seen: dict = {}  # each (task, target) evaluated once, for its row and for the mean over tasks
    rows = predict_rows(states, tasks, targets, level, seen)
    return AutoResult(pd.DataFrame(rows), pd.DataFrame(applied_weights(rows, states)),
                      pd.concat([fitted[t].backtest for t in tasks], ignore_index=True),
                      left_out_notes({t: s.left_out for t, s in states.items()}),
                      pd.DataFrame(mean_rows(states, tasks, targets, level, seen) if len(tasks) > 1 else []))


def fit_states(ladder, tasks: Sequence[str], designs: Sequence[str] = ALL_DESIGNS, n_jobs: int | None = None,
               progress=None) -> dict[str, TaskState]:
    """Each task's automatic choice, fitted (backtests, weights, bootstraps): what
    :meth:`predictor.TaskState.predict` needs for any target."""
    return {t: f.state for t, f in task_fits(ladder, tasks, designs, n_jobs, progress).items()}


#: Runs the automatic choice needs: its backtest holds out 4 rungs and refits 5-parameter laws on the rest.
AUTO_MIN_RUNS = 10


def task_fits(ladder, tasks: Sequence[str], designs: Sequence[str] = ALL_DESIGNS, n_jobs: int | None = None,
              progress=None) -> dict[str, TaskFit]:
    """Each task's automatic choice with its backtest table and weights (:class:`TaskFit`):
    what comparing two ladders needs beyond :func:`fit_states`.  Cached like it."""
    return _fitted(as_ladder(ladder), list(tasks), tuple(designs), n_jobs, progress)


def _fitted(lad: Ladder, tasks: list[str], designs: tuple, n_jobs: int | None, progress) -> dict[str, TaskFit]:
    _check_runs(lad, tasks, AUTO_MIN_RUNS, "the automatic choice backtests on 4 held-out rungs and needs at least 10 "
                "ladder runs", "; --paper (or --design NAME) uses one fixed pipeline, which needs 5")
    # The backtests, fits and bootstraps of a task depend on the ladder and the designs
    # only: computed once per (ladder content, task, designs) and cached on disk.
    return _per_task(lad, tasks, designs, ("auto-fit",), _fit_design, (),
                     lambda task, parts: _assemble(task, designs, parts, _log_center(_task_runs(lad, task))),
                     n_jobs, progress)


def _over_cores(lad: Ladder, fn, jobs: list[tuple], n_jobs: int | None):
    """Yield ``(job, fn(lad, *job))`` for every job as it finishes, over the cores (forked
    workers share the parent's ladder, already indexed and hashed, and use one BLAS thread
    each), or here when one core or one job."""
    from .parallel import one_blas_thread, over_cores

    for i, out in over_cores(fn, [(lad, *job) for job in jobs], n_jobs, init=one_blas_thread, portable=True):
        yield jobs[i], out


@dataclass
class TaskFit:
    """What the automatic choice knows of one task before any target: the ladder's alone."""

    task: str
    weights: pd.DataFrame
    """Per design: backtest RMSE, log-extrapolation and weight (index: design)."""
    backtest: pd.DataFrame
    state: TaskState
    """Every pipeline fitted, bootstrap refits included, with its backtest error."""


def _fit_design(lad: Ladder, task: str, design: str) -> tuple[pd.DataFrame, PipelineState | None, str | None]:
    """One pipeline of one task: its backtest rows and, if it could be backtested, its final
    fit with bootstrap refits (the backtest fields of the state are filled in by :func:`_assemble`);
    else why not (:func:`_why_left_out`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        bt = backtest(lad, [task], [design], coverage=False)
        if not len(bt):
            return bt, None, _why_left_out(lad, task, design)
        return bt, DesignModel(design, task).fit(lad).state(), None


def lacking(lad: Ladder, task: str, design: str) -> str | None:
    """What ``design`` needs for ``task`` that the ladder has on no run, or None: its middle
    feature (a W&B export of accuracies has no bits-per-byte; lm-eval's outputs have no C4 loss)."""
    cfg = DESIGNS.get(design)
    if cfg is not None:
        key = feature_key(task, cfg.feature)
        if not lad.has(*key):
            return "no C4 loss" if key[0] == C4 else f"no {key[1]!r} values"
    return None


def missing_features(ladder, tasks: Iterable[str], designs: Sequence[str] = ALL_DESIGNS) -> dict[str, tuple]:
    """Per task, the pipelines its automatic choice will leave out for lack of data, with why
    (:func:`lacking`): what :func:`predictor.left_out_notes` says, known before any fit."""
    lad = as_ladder(ladder)
    return {t: tuple((d, why) for d in designs if (why := lacking(lad, t, d))) for t in tasks}


def _why_left_out(lad: Ladder, task: str, design: str) -> str:
    """Why a pipeline has no backtest row on a task: :func:`lacking`, else its fit's own error."""
    if why := lacking(lad, task, design):
        return why
    try:
        DesignModel(design, task, n_starts=0).fit(lad)
    except TaskladderError as e:
        return str(e).removeprefix(f"task {task!r}: ")  # the note names the task
    return "no backtest split could score it"


def _assemble(task: str, designs: Sequence[str], parts: dict, center: float) -> TaskFit:
    """A task's automatic choice from its pipelines' parts: the backtest table (rows by split,
    pipeline and run, as one :func:`backtest` over every pipeline gives them), the weights,
    and each pipeline's state with its backtest error; ``center``: the mean log compute of the
    runs scored on the task (:func:`_log_center`)."""
    got = [parts[d][0] for d in designs if len(parts[d][0])]
    if not got:
        groups = by_reason((d, parts[d][2]) for d in designs)
        why = "; ".join(f"{', '.join(ds)}: {reason}" for reason, ds in groups.items())
        raise TaskladderError(f"task {task!r}: no pipeline could be fitted on the ladder's backtest splits ({why})")
    order = {name: i for i, name in enumerate(SPLITS)}
    bt = pd.concat(got, ignore_index=True)
    bt = bt.sort_values("split", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    wt = design_weights(bt).set_index("design")
    pipes = {d: replace(parts[d][1], rmse=float(wt.loc[d, "rmse"]),
                        log_extrapolation=float(wt.loc[d, "log_extrapolation"]),
                        backtest_weight=float(wt.loc[d, "weight"])) for d in wt.index}
    error = model_error(bt)
    if error is None:  # no split left to score the weighted mean on: its pipelines' errors
        error = ModelError(float(np.sum(wt["weight"] * wt["rmse"])), float(bt["log_extrapolation"].mean()),
                           _error_dof(bt))
    left_out = tuple((d, parts[d][2]) for d in designs if not len(parts[d][0]))
    return TaskFit(task, wt, bt, TaskState(task, pipes, center, error, left_out))


def _backtest_weights(bt: pd.DataFrame) -> pd.Series:
    """Each pipeline's weight from backtest rows (:func:`design_weights`), indexed by design."""
    return design_weights(bt).set_index("design")["weight"]


def ensemble_errors(bt: pd.DataFrame, weigh=_backtest_weights) -> pd.DataFrame:
    """The weighted mean of the pipelines on every backtest split, out of sample for its weights.

    Each split's held-out runs are predicted with the weights (:func:`design_weights`) the
    *other* splits give, so the error is out of sample for the weights too: the error of
    the weighted mean is what its interval must carry, and it is smaller than its
    pipelines' (their errors partly cancel).  Columns: split, run, error (fraction),
    log_extrapolation.  Empty when no split has another to weigh it with.  ``weigh(rows)`` gives
    the weights (by design) from the other splits' rows (:func:`compare.difference_error` pools
    two ladders' errors)."""
    errs = []
    for split, held in bt.groupby("split", sort=False):
        other = bt[bt["split"] != split]
        if other.empty:
            continue
        w = weigh(other)
        w = w[np.isfinite(w)]
        for run, g in held.groupby("run", sort=False):
            g = g[g["design"].isin(w.index) & np.isfinite(g["predicted"])]
            if len(g):
                ww = w[g["design"]].to_numpy()
                errs.append((split, run, float(np.dot(ww, g["predicted"]) / ww.sum() - g["actual"].iloc[0]),
                             float(g["log_extrapolation"].iloc[0])))
    return pd.DataFrame(errs, columns=["split", "run", "error", "log_extrapolation"])


def model_error(bt: pd.DataFrame) -> ModelError | None:
    """The weighted mean's model error (:class:`predictor.ModelError`) from one task's backtest:
    the RMSE of :func:`ensemble_errors` at the held-out runs' mean log-extrapolation, with
    :func:`_error_dof` degrees of freedom.  None when no split has another to weigh it with."""
    e = ensemble_errors(bt)
    if e.empty:
        return None
    return ModelError(float(np.sqrt(np.mean(np.square(e["error"])))), float(bt["log_extrapolation"].mean()),
                      _error_dof(e), tuple(zip(e["split"], e["run"], e["error"].astype(float))))


def _error_dof(errors: pd.DataFrame) -> float:
    """Degrees of freedom of a backtest error's scale: the distinct held-out runs less one (the
    splits share runs, and one split's errors share its fits: fewer independent errors than rows)."""
    return float(max(errors["run"].nunique() - 1, 1))
