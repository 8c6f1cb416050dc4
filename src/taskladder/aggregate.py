"""The mean accuracy over tasks, predicted with its own interval.

Teams read a suite by its average, and a data change is often judged by it.  The
centre is the mean of the tasks' automatic predictions; its interval is not built from theirs:

* **model error**: the mean's own backtest error.  Every task's weighted prediction was scored out
  of sample on the same held-out runs of the same splits (:func:`trust.ensemble_errors`), so the
  tasks' errors pair up by (split, run); their mean per pair is the error of the mean, and its
  RMS the scale, grown with the distance extrapolated as a task's is (:class:`predictor.ModelError`),
  at least that of errors correlated :data:`ERROR_CORRELATION_FLOOR` (an error the tasks share in a
  direction the backtest did not hold out is not in it).
* **fit variance**: the tasks' bootstrap variances (checkpoint noise included) summed over the
  tasks squared, as for independent errors: each task's bootstrap resamples its own residuals
  and runs with its own seed (so that a task's interval does not depend on the others requested),
  and the tasks are scored on different questions.

The interval is centre +- Student t x SD on the logit scale, as a task's (Welch-Satterthwaite
degrees of freedom of the two parts).  Measured (docs/trust.md, "The mean over tasks"): the 8-task
mean at 7B-4T and 13B-5T is off by 0.15 and 0.68 points, inside +-3.2 / +-3.5 against the tasks'
+-5.4 / +-6.2; its 90% intervals covered all 22 (ladder, target) pairs of ``scripts/composition.py``
and the 12 held-out runs of the ladder's calibration splits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import TaskladderError
from .predictor import ModelError, TaskState, expit, logit, logit_sd, welch_quantile
from .tasks import ACC

#: The ``task`` of the mean's rows.
MEAN = "mean"

#: The least correlation assumed between two tasks' model errors.  A backtest holds out a few runs
#: in one or two directions; a target extrapolates in others too, where an error common to the tasks
#: may appear that the backtest did not see.  On the bundled ladder's three calibration splits the
#: tasks' errors on the held-out runs correlate -0.01, 0.03 and 0.54 (intraclass; 0.54: the 10xC
#: runs, predicted from the 1/2/5xC ones, which every task over-predicts), 0.21 pooled, while the
#: full ladder's own backtest shows 0.04.  Without a floor the mean's 90% intervals covered 9 of
#: those 12 runs; with 0.25, 12 (0.5: 12, wider).  Chosen on the ladder's splits alone
#: (docs/trust.md, "The mean over tasks").
ERROR_CORRELATION_FLOOR = 0.25

INTERVAL_METHOD = ("mean of the tasks' automatic predictions +- Student t x SD on the logit scale; SD: the "
                   "tasks' bootstrap variances as independent, and the mean's own backtest error (the tasks' "
                   f"errors paired by held-out run; at least that of errors correlated {ERROR_CORRELATION_FLOOR}) "
                   "grown with the extrapolation distance")


def mean_error(errors: Sequence[ModelError], floor: float = ERROR_CORRELATION_FLOOR) -> ModelError:
    """The backtest error of the mean of some tasks' weighted predictions (or of their differences
    between two ladders, :mod:`compare`), from each task's (:class:`ModelError`).

    The tasks' out-of-sample errors are averaged per (split, held-out run) that every task was
    scored on; the scale is their RMS, the degrees of freedom the distinct runs less one.  The
    scale is at least that of ``floor`` correlation between the tasks' errors: the root of
    (floor + (1 - floor) / K) x the mean of the tasks' squared scales.  Tasks without a shared
    held-out run (each scored on other runs) fall back to the mean of their scales, the
    perfectly correlated case."""
    ref = float(np.mean([e.reference for e in errors]))
    paired = [dict(((split, run), err) for split, run, err in e.errors) for e in errors]
    common = set(paired[0]).intersection(*paired[1:]) if all(paired) else set()
    if not common:
        return ModelError(float(np.mean([e.scale for e in errors])), ref, float(min(e.dof for e in errors)))
    keys = sorted(common)
    errs = np.array([[p[k] for k in keys] for p in paired]).mean(axis=0)
    k = len(errors)
    least = np.sqrt((floor + (1.0 - floor) / k) * np.mean([e.scale ** 2 for e in errors]))
    return ModelError(float(max(np.sqrt(np.mean(errs ** 2)), least)), ref,
                      float(max(len({run for _, run in keys}) - 1, 1)),
                      tuple((split, run, float(e)) for (split, run), e in zip(keys, errs)))


def spread(fit_vars: Sequence[float], fit_dofs: Sequence[float], exts: Sequence[float], error: ModelError,
           level: float) -> tuple[float, float]:
    """The SD of the mean over K tasks at a target and its Student t quantile at ``level``: the
    tasks' fit variances summed as independent (over K^2), the mean's model error (:func:`mean_error`)
    at their mean distance, Welch-Satterthwaite degrees of freedom of the two parts.  Shared by a
    prediction's mean (:func:`mean_rows`) and a comparison's (:func:`compare._mean_rows`)."""
    k = len(fit_vars)
    fit_var = float(sum(fit_vars)) / k ** 2
    err_var = error.sd(float(np.mean(exts))) ** 2
    return float(np.sqrt(fit_var + err_var)), welch_quantile(fit_var, err_var, min(fit_dofs), error.dof, level)


def mean_label(k: int) -> str:
    """How tables and figures name the mean over ``k`` tasks."""
    return f"mean of {k}"


def flat(table):
    """Mean rows (pandas) with their ``tasks`` as one comma-separated string, a flat table's cell;
    a table without them as it is, and other rows' (a task's, beside a mean: None) left as they are."""
    if "tasks" not in table:
        return table
    return table.assign(tasks=table["tasks"].map(lambda t: ",".join(t) if isinstance(t, (list, tuple)) else None))


def mean_rows(states: dict[str, TaskState], tasks: Sequence[str], targets, level: float,
              seen: dict | None = None) -> list[dict]:
    """One row per target: the mean over ``tasks`` of their automatic predictions, its interval
    and the mean of the actuals where every task has one.  Needs two tasks or more.  ``seen``:
    the tasks' evaluations at these targets that :func:`predictor.predict_rows` kept, reused."""
    tasks = list(tasks)
    if len(tasks) < 2:
        raise TaskladderError(f"the mean over tasks needs two tasks or more, got {len(tasks)}")
    chosen = [states[t] for t in tasks]
    error = mean_error([s.error for s in chosen])
    k = len(tasks)
    rows = []
    seen = {} if seen is None else seen
    evaluated = []  # per task, its evaluation at every target: those seen, the rest at once
    for task, s in zip(tasks, chosen):
        have = [seen.get((task, i)) for i in range(len(targets))]
        todo = [i for i, e in enumerate(have) if e is None]
        for i, e in zip(todo, s.evaluate_many([targets[i] for i in todo])):
            have[i] = e
        evaluated.append(have)
    for i, t in enumerate(targets):
        parts = [have[i] for have in evaluated]
        center = float(np.mean([p.center for p in parts]))
        sd, q = spread([p.fit_var for p in parts], [p.fit_dof for p in parts], [p.ext for p in parts], error, level)
        half = q * logit_sd(center, sd)
        lo, hi = (float(v) for v in expit(np.array([logit(center) - half, logit(center) + half])))
        actuals = [t.actual(task, ACC) for task in tasks] if hasattr(t, "actual") else []
        known = len(actuals) == k and all(a is not None and a == a for a in actuals)
        actual = float(np.mean(actuals)) if known else None
        rows.append({"task": MEAN, "target": t.name, "n": t.n, "d": t.d, "tasks": tasks, "predicted": center,
                     "lower": lo, "upper": hi, "sd": sd, "level": level, "interval": INTERVAL_METHOD, "actual": actual,
                     "abs_error": None if actual is None else abs(center - actual) * 100,
                     "covered": None if actual is None else bool(lo <= actual <= hi)})
    return rows


def labelled(table):
    """A table (pandas) with its mean rows' task named "mean of K", for a figure or an HTML table
    that shows them beside the tasks; without the ``tasks`` column."""
    if "tasks" not in table:
        return table
    k = table["tasks"].map(lambda t: len(t) if isinstance(t, (list, tuple)) else 0)
    task = table["task"].where(table["task"] != MEAN, k.map(mean_label))
    return table.assign(task=task).drop(columns="tasks")
