"""Two ladders compared at a target: does a change (a data mix, an architecture tweak) move
the target's accuracy, and by how much?

A prediction 25x in compute beyond a ladder misses by a few points, mostly because no
pipeline's functional form is exactly right.  Two ladders of one recipe share that error:
the *difference* of their predictions cancels it; with the two ladders' seeds and data order
shared, their run-to-run noise cancels too, and a change of a point or two can be told where
neither absolute interval can (docs/trust.md, "Comparing two ladders").  Per task:

* both ladders' pipelines get the same weights, from their pooled backtest MSE (different
  weights would make a difference out of the pipeline mix alone);
* the difference is the weighted mean of the pipelines' differences;
* its bootstrap variance is taken draw by draw on the difference: both ladders' draws
  resample the same runs (one seed per task, runs by name), so deviations from the laws the
  two ladders share (seeds, data order) cancel and independent ones add
  (:func:`_difference_variance`); the checkpoint noise of both actuals adds;
* its model error is that of the *difference*, measured on the backtest as
  :func:`trust.model_error` measures one ladder's: each split's held-out runs both ladders
  have predicted by both with the other split's weights, error = (A's miss) - (B's miss),
  grown with the distance extrapolated;
* Student t with Welch's degrees of freedom, as the automatic interval.

Runs are matched by name, and where the two ladders name the same rungs differently
(``mixB-190M-1xC``), by N and tokens per parameter (:func:`_aligned`).  Without held-out runs
in common the difference's model error cannot be measured; the two ladders' own errors are
then added as if independent (no cancellation, the conservative case), as are their bootstrap
variances when their runs differ.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .aggregate import ERROR_CORRELATION_FLOOR
from .errors import InputWarning, TaskladderError
from .predictor import (FINAL_WINDOW, LadderSpan, ModelError, TaskState, _fit_variance, _sd, draw_variance,
                        welch_quantile)

if TYPE_CHECKING:
    import pandas as pd

# pandas, the ladder tables and the fitting modules are imported where the ladders are read and
# fitted (:func:`pair_state`), not here: a repeated comparison evaluates a cached
# :class:`PairState` (:func:`pair_rows`) without them, as a repeated prediction does.

__all__ = ["PairState", "compare", "comparison_notes", "difference_error", "multiplier_text", "pair_notes",
           "pair_rows", "pair_state", "read_pair"]

#: How the interval of a difference is built (every output carries it).
INTERVAL_METHOD = ("Student t: the difference's bootstrap SD (both ladders, draws paired by run) + its own "
                   "backtest error (A's miss - B's miss on the same held-out runs) grown with the extrapolation")


@dataclass
class PairTask:
    """One task of two ladders compared, before any target (:func:`pair_state`)."""

    baseline: TaskState
    candidate: TaskState
    common: list
    """The pipelines both ladders fitted."""
    mse: dict
    """Design -> backtest MSE pooled over both ladders: the shared weights' evidence."""
    error: ModelError
    """The difference's model error (:func:`difference_error`, or both ladders' own as independent)."""
    center: float
    """The two ladders' mean log compute, from which a target's distance is measured."""
    paired: bool
    """Whether both ladders' bootstrap draws resample the same runs (:func:`_same_runs`)."""
    matched: int
    """Held-out runs the difference's error was measured on."""


@dataclass
class PairState:
    """Two ladders compared before any target: everything :func:`pair_rows` and :func:`pair_notes`
    need, a function of the two ladders alone (cached by their files, :func:`serve.comparison_answer`)."""

    tasks: list
    pairs: dict
    """Task -> its :class:`PairTask`."""
    spans: tuple
    """Each ladder's :class:`predictor.LadderSpan`, for the notes about a target."""
    left_out: tuple
    """Each ladder's task -> the pipelines its automatic choice left out, with why."""
    unmatched: tuple
    """Each ladder's runs whose rung the other lacks (:func:`_unmatched`)."""
    said: tuple = ()
    """What reading the two ladders' files warned (said again on a repeated comparison)."""
    fitting_said: tuple = ()
    """What fitting them warned (:class:`errors.InputWarning`), a repeated comparison's notes too."""


def compare(baseline, candidate, targets, tasks: Iterable[str], level: float = 0.9,
            designs: Sequence[str] | None = None, n_jobs: int | None = None, progress=None,
            mean: bool = False) -> pd.DataFrame:
    """Candidate minus baseline at each target, per task, with an interval at ``level``.

    Columns: task, target, baseline, candidate (each ladder's prediction with the shared
    weights), difference, lower, upper, sd, level, interval, weights (design -> weight),
    matched_runs (held-out runs the difference's backtest error was measured on), paired
    (whether the bootstrap draws were paired by run), and compute_multiplier, multiplier_lower,
    multiplier_upper (:func:`_multipliers`: the compute the baseline needs to match the candidate,
    as a multiple of the target's).  With ``mean`` (and two tasks or more),
    a last row per target whose task is ``"mean"``: the difference of the mean over the tasks,
    with its own interval (:func:`_mean_rows`).
    ``progress(share)`` is called as each (ladder, task, pipeline) fit ends (half a task each).
    What either ladder cannot tell is said as :class:`errors.InputWarning`s (:func:`comparison_notes`).
    """
    import pandas as pd

    targets = list(targets)
    state = pair_state(baseline, candidate, tasks, designs, n_jobs, progress)
    rows = pair_rows(state, targets, level, mean)
    for note in pair_notes(state, targets):  # as predict and forecast say theirs
        warnings.warn(note, InputWarning, stacklevel=2)
    return pd.DataFrame(rows)


def pair_state(baseline, candidate, tasks: Iterable[str], designs: Sequence[str] | None = None,
               n_jobs: int | None = None, progress=None) -> PairState:
    """What comparing two ladders (:class:`chain.Ladder`s or tidy tables) knows before any target:
    per task both automatic choices fitted (:func:`trust.task_fits`, cached on disk), the weights'
    pooled evidence and the difference's model error; ``progress`` as :func:`compare`'s."""
    from .chain import as_ladder, ladder_span
    from .trust import ALL_DESIGNS, task_fits

    tasks = list(tasks)
    designs = ALL_DESIGNS if designs is None else designs
    half = None if progress is None else (lambda share=1.0: progress(share / 2))
    la = as_ladder(baseline)
    lb = _aligned(la, as_ladder(candidate))
    fa = task_fits(la, tasks, designs, n_jobs, half)
    fb = task_fits(lb, tasks, designs, n_jobs, half)
    pairs = {}
    for task in tasks:
        a, b = fa[task], fb[task]
        common = [d for d in a.state.pipelines if d in b.state.pipelines]
        if not common:
            raise TaskladderError(f"task {task!r}: the two ladders have no pipeline in common")
        mse = {d: (a.weights.loc[d, "rmse"] ** 2 + b.weights.loc[d, "rmse"] ** 2) / 2 for d in common}
        err, matched = difference_error(a.backtest, b.backtest)
        if err is None:  # no shared held-out runs: the two errors as independent
            ea, eb = a.state.error, b.state.error
            err = ModelError(float(np.hypot(ea.scale, eb.scale)), (ea.reference + eb.reference) / 2,
                             min(ea.dof, eb.dof))
        pairs[task] = PairTask(a.state, b.state, common, mse, err, (a.state.log_center + b.state.log_center) / 2,
                               _same_runs(la, lb, task), matched)
    return PairState(tasks, pairs, (ladder_span(la), ladder_span(lb)),
                     tuple({t: f[t].state.left_out for t in tasks} for f in (fa, fb)),
                     (_unmatched(la, lb), _unmatched(lb, la)))


def pair_rows(state: PairState, targets, level: float = 0.9, mean: bool = False) -> list[dict]:
    """:func:`compare`'s rows from a :class:`PairState`: no table is read, nothing fitted."""
    targets = list(targets)
    rows, parts = [], {}
    for task in state.tasks:
        p = state.pairs[task]
        for t in targets:
            row, parts[task, t.name] = _row(task, t, p.baseline, p.candidate, p.common, p.mse, p.error, p.center,
                                            level, p.paired)
            rows.append(row | {"matched_runs": p.matched, "paired": p.paired})
    if mean and len(state.tasks) > 1:
        rows += _mean_rows(rows, parts, [state.pairs[t].error for t in state.tasks], state.tasks, targets, level)
    _multipliers(rows, {t: state.pairs[t].baseline for t in state.tasks}, targets)
    for r in rows:  # the mean's tasks last, where a table of all the rows has them
        if "tasks" in r:
            r["tasks"] = r.pop("tasks")
    return rows


def pair_notes(state: PairState, targets) -> list[str]:
    """:func:`comparison_notes` from a :class:`PairState`."""
    return _notes(state.spans, list(targets), state.tasks, state.left_out, state.unmatched)


def multiplier_text(r: dict, bounds: bool = False) -> str:
    """A row's compute multiplier as tables print it (2.3, 14; beyond the search >1000 or <1/1000, on
    the side its difference lies), with ``bounds`` its range too: ``2.3 [1.4, 3.9]``."""
    from .reach import MULTIPLIER_SPAN

    def one(m, side):
        if m is None or m != m:
            return f">{MULTIPLIER_SPAN:g}" if side > 0 else f"<1/{MULTIPLIER_SPAN:g}"
        return f"{m:.2g}" if m < 10 else f"{m:.0f}"
    text = one(r.get("compute_multiplier"), r["difference"])
    return f"{text} [{one(r.get('multiplier_lower'), r['lower'])}, {one(r.get('multiplier_upper'), r['upper'])}]" \
        if bounds else text


def verdict(lower: float, upper: float) -> str:
    """``higher`` or ``lower`` where the difference's interval excludes 0, else ``unclear``."""
    return "higher" if lower > 0 else "lower" if upper < 0 else "unclear"


def comparison_notes(baseline, candidate, targets, tasks: Sequence[str], left_out: tuple | None = None) -> list[str]:
    """What either ladder cannot tell (:func:`predictor.prediction_notes`: a run still training,
    a task missing from some runs, ...; with ``left_out``, each ladder's pipelines per task that
    its automatic choice left out, :func:`predictor.left_out_notes`), said once for both where
    they share it, and the runs of one ladder whose rung (N and tokens per parameter) the other
    lacks.  A difference of
    ladders of other rungs mixes the change with the ladders' composition: without its 1B runs
    the bundled ladder misses 7B-4T by 5.4 points on average instead of 2 (docs/trust.md)."""
    from .chain import as_ladder, ladder_span

    la, lb = as_ladder(baseline), as_ladder(candidate)
    return _notes((ladder_span(la), ladder_span(lb)), targets, tasks, left_out, (_unmatched(la, lb), _unmatched(lb, la)))


def _notes(spans: tuple[LadderSpan, LadderSpan], targets, tasks: Sequence[str], left_out: tuple | None,
           unmatched: tuple[list, list]) -> list[str]:
    """:func:`comparison_notes` from the two ladders' spans and unmatched runs."""
    from .predictor import _run_list, left_out_notes, prediction_notes

    na, nb = (prediction_notes(span, targets, tasks) for span in spans)
    for said, left in zip((na, nb), left_out or ()):
        said += left_out_notes(left)
    notes = [f"both ladders: {x}" for x in na if x in nb]
    notes += [f"baseline: {x}" for x in na if x not in nb] + [f"candidate: {x}" for x in nb if x not in na]
    only_a, only_b = unmatched
    if only_a or only_b:
        said = ([f"the baseline has {_run_list(only_a)}"] if only_a else []) + (
            [f"the candidate has {_run_list(only_b)}"] if only_b else [])
        notes.append(f"{' and '.join(said)} with no run of the same N and tokens per parameter in the other "
                     "ladder: the two predictions extrapolate from different rungs, so their difference mixes "
                     "the change with the ladders' composition; compare ladders of the same rungs")
    return notes


def _unmatched(la, lb) -> list[str]:
    """``la``'s runs (smallest first) without a run of ``lb`` of the same name, or of N within 1%
    and final tokens per parameter within 5% (a batch or schedule that ends a little off)."""
    runs_a, runs_b = la.run_table, lb.run_table
    n_b, tpp_b = runs_b["n"].to_numpy(float), runs_b["d"].to_numpy(float) / runs_b["n"].to_numpy(float)
    out = []
    for r, row in runs_a.sort_values(["n", "d"]).iterrows():
        n, tpp = float(row["n"]), float(row["d"]) / float(row["n"])
        if r in runs_b.index or np.any((np.abs(np.log(n_b / n)) < 0.01) & (np.abs(np.log(tpp_b / tpp)) < 0.05)):
            continue
        out.append(str(r))
    return out


def read_pair(baseline, candidate, tasks: Sequence[str] | None = None, sizes: Path | None = None):
    """Two ladders' files or folders (any format ``--ladder`` reads), or tidy DataFrames, as
    :class:`chain.Ladder`s, and the tasks to compare: ``tasks``, each checked on both, or by
    default those both have accuracy for (the paper's first, as :func:`tasks.default_tasks`)."""
    from .serve import load_ladder
    from .tasks import ACC, EVERY, choose_tasks
    from .trust import AUTO_MIN_RUNS

    la, lb = load_ladder(baseline, sizes), load_ladder(candidate, sizes)
    baseline, candidate = _label(baseline, "the baseline"), _label(candidate, "the candidate")
    for lad, p in ((la, baseline), (lb, candidate)):  # said here, where the file is known
        if (n_runs := lad.results["run"].nunique()) < AUTO_MIN_RUNS:
            raise TaskladderError(f"{p}: {n_runs} runs; comparing backtests each ladder on 4 held-out rungs "
                                  f"and needs at least {AUTO_MIN_RUNS} runs in each")
    if not tasks or EVERY in tasks:
        both = [t for t in la.tasks if la.has(t, ACC) and lb.has(t, ACC)]
        if not both:
            raise TaskladderError(f"{baseline} and {candidate} have accuracy for no task in common")
        tasks = choose_tasks(tasks, both)  # 'all': every task both have
    else:  # a name as the tables print it ('ARC-Challenge') is the ladders' task
        tasks = choose_tasks(tasks, set(la.tasks) | set(lb.tasks))
    for lad, p in ((la, baseline), (lb, candidate)):
        for t in tasks:
            if not lad.has(t, ACC):
                raise TaskladderError(f"{p}: no accuracy for task {t!r} (tasks with accuracy: "
                                      f"{', '.join(x for x in lad.tasks if lad.has(x, ACC))})")
    return la, lb, list(tasks)


def _label(ladder, frame: str) -> str:
    """A ladder as errors name it: its files, the bundled one (None), or ``frame`` for a DataFrame."""
    from .serve import _is_frame

    if _is_frame(ladder):
        return frame
    if ladder is None:
        return "the bundled ladder"
    return str(ladder) if isinstance(ladder, (str, Path)) else ", ".join(map(str, ladder))


def _row(task, t, sa, sb, common, mse, err: ModelError, center: float, level: float, paired: bool) -> tuple:
    """One (task, target): the shared-weight difference and its interval; ``paired``: the two
    ladders' bootstrap draws resample the same runs (:func:`_difference_variance`).  Returns the
    row and (its fit variance, their degrees of freedom, the target's distance), for the mean."""
    pa = {d: sa.pipelines[d].predict(t.n, t.d) for d in common}
    pb = {d: sb.pipelines[d].predict(t.n, t.d) for d in common}
    da = {d: sa.pipelines[d].draws(t.n, t.d) for d in common}
    db = {d: sb.pipelines[d].draws(t.n, t.d) for d in common}
    use = [d for d in common if np.isfinite(pa[d]) and np.isfinite(pb[d])
           and np.isfinite(_sd(sa.pipelines[d], da[d])) and np.isfinite(_sd(sb.pipelines[d], db[d]))]
    if not use:
        raise TaskladderError(f"task {task!r}: no pipeline gives a finite prediction for {t.name} on both ladders")
    inv = {d: 1.0 / max(mse[d], 1e-8) for d in use}
    w = {d: v / sum(inv.values()) for d, v in inv.items()}
    base = float(sum(w[d] * pa[d] for d in use))
    cand = float(sum(w[d] * pb[d] for d in use))
    fit_var = _difference_variance(sa.pipelines, sb.pipelines, w, da, db) if paired else (
        _fit_variance(sa.pipelines, w, da) + _fit_variance(sb.pipelines, w, db))
    ext = np.log(float(t.n) * float(t.d)) - center
    err_var = err.sd(ext) ** 2
    sd = float(np.sqrt(fit_var + err_var))
    booted = [d for d in use if da[d] is not None]
    fit_dof = min(min(sa.pipelines[d].dof, sb.pipelines[d].dof) for d in (booted or use))
    q = welch_quantile(fit_var, err_var, fit_dof, err.dof, level)
    diff = cand - base
    return {"task": task, "target": t.name, "n": t.n, "d": t.d, "baseline": base, "candidate": cand, "difference": diff,
            "lower": diff - q * sd, "upper": diff + q * sd, "sd": sd, "level": level, "interval": INTERVAL_METHOD,
            "weights": w}, (fit_var, fit_dof, float(ext))


def _multipliers(rows: list[dict], states: dict, targets) -> None:
    """Each row's compute multiplier, in place: the compute at which the *baseline's* prediction
    (its pipelines, the row's shared weights) reaches the candidate's accuracy, as a multiple of the
    target's, along the target's own tokens per parameter (N and D scaled together), and the same
    for the baseline's prediction plus the difference's lower and upper bounds.  A change worth
    +2 points where the baseline gains 4 points per tenfold compute reads 3.2x: "the candidate at
    this target matches a baseline with 3.2x its compute", the effective-compute reading of a
    data or recipe change.  None where outside 1/1000x to 1000x (:func:`reach.compute_multipliers`)."""
    from .aggregate import MEAN
    from .reach import along, multiplier_fields

    by_name = {t.name: t for t in targets}
    curves: dict = {}

    def curve(task, t, w):
        family = along(t.n, t.d)

        def at(xs: np.ndarray) -> np.ndarray:  # ln C -> the weighted prediction, many at once
            n, d = family.at(np.exp(xs))
            return sum(wt * states[task].pipelines[k].predict_many(n, d) for k, wt in w.items())
        return at

    for r in rows:
        t = by_name[r["target"]]
        if r["task"] == MEAN:  # the baseline's mean over the tasks' curves (used at once: no late binding)
            parts = [curves[task, t.name] for task in r["tasks"]]

            def f(xs):
                return np.mean([p(xs) for p in parts], axis=0)
        else:
            f = curves[r["task"], t.name] = curve(r["task"], t, r["weights"])
        r.update(multiplier_fields(f, 6.0 * float(t.n) * float(t.d), r["candidate"], r["baseline"] + r["lower"],
                                   r["baseline"] + r["upper"]))


#: How the interval of the difference of the mean over tasks is built.
MEAN_INTERVAL_METHOD = ("Student t: the tasks' difference variances as independent + the mean difference's own "
                        "backtest error (the tasks' errors paired by held-out run; at least that of errors "
                        f"correlated {ERROR_CORRELATION_FLOOR}) grown with the extrapolation")


def _mean_rows(rows: list[dict], parts: dict, errors: list[ModelError], tasks: list[str], targets,
               level: float) -> list[dict]:
    """Per target, the difference of the mean over ``tasks``: the mean of their differences; its
    model error that of the mean (:func:`aggregate.mean_error`: the tasks' difference errors
    paired by held-out run, with the floor of correlated errors), its fit variance the tasks'
    summed as independent, as :func:`aggregate.mean_rows` builds a prediction's."""
    from .aggregate import MEAN, mean_error, spread

    err = mean_error(errors)
    out = []
    for t in targets:
        got = [r for r in rows if r["target"] == t.name]
        fit_vars, fit_dofs, exts = zip(*(parts[task, t.name] for task in tasks))
        sd, q = spread(fit_vars, fit_dofs, exts, err, level)
        base, cand = (float(np.mean([r[c] for r in got])) for c in ("baseline", "candidate"))
        diff = float(np.mean([r["difference"] for r in got]))
        out.append({"task": MEAN, "target": t.name, "n": t.n, "d": t.d, "baseline": base, "candidate": cand,
                    "difference": diff,
                    "lower": diff - q * sd, "upper": diff + q * sd, "sd": sd, "level": level,
                    "interval": MEAN_INTERVAL_METHOD, "weights": {}, "matched_runs": min(r["matched_runs"] for r in got),
                    "paired": all(r["paired"] for r in got), "tasks": list(tasks)})
    return out


def _rung(results: pd.DataFrame) -> dict:
    """Each run's rung: (N, final tokens per parameter to 0.1), which names do not always show."""
    runs = results.groupby("run").agg(n=("n", "first"), d=("d", "max"))
    return {r: (int(n), round(d / n, 1)) for r, n, d in runs.itertuples()}


def _aligned(la, lb):
    """The candidate with its runs renamed to the baseline's where the two name the same rungs
    differently (``mixB-190M-1xC`` for ``190M-1xC``): same N and tokens per parameter.  The
    pairing of draws and the difference's backtest match runs by name."""
    from .chain import Ladder

    ka, kb = _rung(la.results), _rung(lb.results)
    if set(ka) == set(kb) or len(set(ka.values())) < len(ka) or len(set(kb.values())) < len(kb):
        return lb
    by_rung = {k: r for r, k in ka.items()}
    ren = {r: by_rung[k] for r, k in kb.items() if k in by_rung and by_rung[k] != r}
    kept = set(kb) - set(ren)
    if not ren or kept & set(ren.values()):  # nothing to rename, or a name would be taken twice
        return lb
    res = lb.results.copy()
    res["run"] = res["run"].map(lambda r: ren.get(r, r))
    res.attrs = dict(lb.results.attrs)
    return Ladder(res)


def _same_runs(la, lb, task: str) -> bool:
    """Whether both ladders hold the same runs for ``task`` (by name, in the same order, with
    accuracy): then draw b of each resamples the same runs (one seed per task, runs by name)."""
    from .tasks import ACC

    runs = [sorted(s.run for s in lad.series(task, ACC)) for lad in (la, lb)]
    return runs[0] == runs[1]


def _difference_variance(pa: dict, pb: dict, w: dict, da: dict, db: dict) -> float:
    """Variance of the weighted difference, draw by draw (:func:`predictor.draw_variance`, the
    baseline's draws weighted -w): the two ladders' bootstraps resample the same runs, so where
    their runs deviate from the laws alike (shared seeds or data order, one ladder a shifted copy
    of the other) the deviations cancel in the difference, and where they are independent the
    variances add, as they should.  The checkpoint noise of both actuals adds."""
    ckpt = sum(wt * (pa[k].ckpt_sd ** 2 + pb[k].ckpt_sd ** 2) for k, wt in w.items()) / FINAL_WINDOW
    return ckpt + draw_variance([(-wt, da[k]) for k, wt in w.items()] + [(wt, db[k]) for k, wt in w.items()])


def difference_error(bt_a: pd.DataFrame, bt_b: pd.DataFrame) -> tuple[ModelError | None, int]:
    """The model error of the difference of two ladders' weighted predictions, from their
    backtests (:func:`trust.backtest` tables): on every split, each held-out run both ladders
    have (by name) is predicted by both with the weights of the other splits (inverse MSE pooled
    over both ladders), and its error is (A's miss) - (B's miss).  Returns (its RMSE as a
    :class:`predictor.ModelError`, the number of runs matched); (None, 0) when no run matches
    or no split has another to weigh it with."""
    import pandas as pd

    from .trust import ensemble_errors

    key = ["split", "run", "design"]
    m = bt_a[key + ["predicted", "actual", "log_extrapolation"]].merge(
        bt_b[key + ["predicted", "actual", "log_extrapolation"]], on=key, suffixes=("_a", "_b"))
    m = m[np.isfinite(m["predicted_a"]) & np.isfinite(m["predicted_b"])]
    if m.empty:
        return None, 0
    # the weighted mean's miss on the difference is (A's miss) - (B's miss); the weights pool
    # both ladders' squared errors, as the shared weights at the target do
    d = pd.DataFrame({"split": m["split"], "run": m["run"], "design": m["design"],
                      "predicted": m["predicted_a"] - m["predicted_b"], "actual": m["actual_a"] - m["actual_b"],
                      "log_extrapolation": (m["log_extrapolation_a"] + m["log_extrapolation_b"]) / 2,
                      "sq": ((m["predicted_a"] - m["actual_a"]) ** 2 + (m["predicted_b"] - m["actual_b"]) ** 2) / 2})
    e = ensemble_errors(d, weigh=lambda rows: 1.0 / np.maximum(rows.groupby("design")["sq"].mean(), 1e-8))
    if e.empty:
        return None, 0
    runs = m["run"].nunique()
    return (ModelError(float(np.sqrt(np.mean(np.square(e["error"])))), float(e["log_extrapolation"].mean()),
                       float(max(runs - 1, 1)), tuple(zip(e["split"], e["run"], e["error"].astype(float)))), runs)
