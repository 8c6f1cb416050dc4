"""What a ladder holds, and what it cannot tell, before anything is fitted.

``taskladder data --ladder my_runs/`` answers the questions a team asks of a ladder read
mid-training or from another tool's outputs, in under a second: which runs, at what
N and tokens, how far each got against the Chinchilla multiple its name plans, which tasks
were scored on which runs, and the warnings every prediction from it would carry
(:func:`predictor.prediction_notes`: a run still training, a task missing from some runs or
scored only up to an earlier checkpoint, a task flat over the ladder, ...).
``taskladder plan --ladder my_runs/`` sets the runs against the plan (:mod:`taskladder.planprogress`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .chain import as_ladder, ladder_notes, ladder_span
from .ladder import chinchilla_multiple
from .laws import PowerLaw
from .predictor import _run_list
from .results import parse_run_name
from .tasks import ACC, LM_LOSS
from .trust import AUTO_MIN_RUNS

__all__ = ["LadderDescription", "describe", "draw_curves"]


@dataclass(frozen=True)
class LadderDescription:
    """A ladder's runs and tasks, and what it supports."""

    runs: pd.DataFrame
    """One row per run, smallest first: run, size, n, d (final tokens), multiple (the final
    tokens over 20 N), planned (the multiple its name gives, else None), short (whether it falls
    short of that: :func:`predictor.short_note`'s runs), checkpoints, tasks (how many have
    accuracy on it)."""
    tasks: pd.DataFrame
    """One row per task with accuracy: task, runs (scored on), metrics, acc_low and acc_high
    (the lowest and highest final accuracy over its runs)."""
    notes: list
    """The warnings any prediction from this ladder carries, about the ladder alone."""
    convention: str | None
    """The metric convention its files were scored under, where known (docs/ingest.md)."""
    holes: list = ()
    """Tasks without accuracy at some checkpoints inside their own span where the run's other
    tasks have it (:func:`holes`): not a risk to a prediction, a sign of evaluations that failed."""
    figures: tuple = ()
    """The figures :func:`draw_curves` wrote for it (``data --out``), if any."""

    @property
    def supports(self) -> str:
        """Which predictions the ladder's run count allows."""
        k = len(self.runs)
        if k >= AUTO_MIN_RUNS:  # the automatic choice's backtest holds out 4 runs
            return f"every command (the automatic choice needs {AUTO_MIN_RUNS} runs)"
        if k >= PowerLaw.n_params:
            return (f"fixed pipelines only (--paper, --design): the automatic choice, backtest and compare "
                    f"need {AUTO_MIN_RUNS} runs, the ladder has {k}")
        return f"no prediction: step 1 has {PowerLaw.n_params} parameters and needs more runs, the ladder has {k}"

    def to_dict(self) -> dict:
        from . import io

        return {"runs": io.records(self.runs), "tasks": io.records(self.tasks), "notes": list(self.notes),
                "holes": list(self.holes), "convention": self.convention, "supports": self.supports}


def draw_curves(results: pd.DataFrame, out) -> tuple:
    """``accuracy.png`` and ``task_loss.png`` in the folder ``out``: every run's curve over its
    tokens, a panel per task (:func:`plots.ladder_curves_figure`), for the metrics the ladder
    has; drawn over the cores.  Returns their paths."""
    from pathlib import Path

    from .plots import CURVES, draw_all, plot_ladder_curves

    have = set(results["metric"].unique())
    paths = {m: Path(out) / f"{CURVES[m][0]}.png" for m in CURVES if m in have}
    draw_all([(plot_ladder_curves, (results, m, p), {}) for m, p in paths.items()])
    return tuple(paths.values())


def describe(results, sizes=None) -> LadderDescription:
    """Describe a ladder: a tidy results table, a :class:`chain.Ladder`, or a path or list of
    paths of files and folders in any format ``--ladder`` reads (``sizes``: a size table, or
    the path of one, for files without N).  No fit: tens of milliseconds once read."""
    from pathlib import Path

    if isinstance(results, (str, Path)) or (isinstance(results, (list, tuple)) and results
                                            and all(isinstance(p, (str, Path)) for p in results)):
        from .serve import load_ladder  # read as every command reads --ladder

        results = load_ladder(results, sizes)
    lad = as_ladder(results)
    res = lad.results
    span = ladder_span(lad)
    short = {r for r, _, _ in span.short}
    sizes = res.groupby("run")["size"].first()
    ckpts = res.groupby("run")["step"].nunique()
    scored = res[res["metric"] == ACC].groupby("run")["task"].nunique()
    rows = []
    for run, r in lad.run_table.sort_values(["n", "d"]).iterrows():
        n, d = int(r["n"]), int(r["d"])
        rows.append({"run": run, "size": sizes[run], "n": n, "d": d, "multiple": chinchilla_multiple(n, d),
                     "planned": parse_run_name(str(run))[1], "short": run in short,
                     "checkpoints": int(ckpts[run]), "tasks": int(scored.get(run, 0))})
    ranges = {t: (lo, hi) for t, lo, hi, _ in span.acc_range}
    kinds = sorted(m for m in res["metric"].unique() if m != LM_LOSS)
    task_rows = []
    for task in lad.tasks:
        if not lad.has(task, ACC):
            continue
        lo, hi = ranges.get(task, (float("nan"), float("nan")))
        task_rows.append({"task": task, "runs": len(lad.runs_with(task, ACC)),
                          "metrics": ", ".join(m for m in kinds if lad.has(task, m)), "acc_low": lo, "acc_high": hi})
    tasks = [t["task"] for t in task_rows]
    return LadderDescription(pd.DataFrame(rows), pd.DataFrame(task_rows, columns=["task", "runs", "metrics",
                                                                                 "acc_low", "acc_high"]),
                             ladder_notes(lad, tasks, span), span.convention, holes(lad, tasks))


def holes(lad, tasks) -> list[str]:
    """Per task, the runs on which its accuracy is missing at checkpoints between its first and
    last, where the run's other tasks were scored (an evaluation job that failed at some
    checkpoints and was not rerun).  A run missing the task altogether, or ending it early, is
    :func:`chain.ladder_notes`'s; a hole only thins step 2's points, so it is said here, not
    beside every prediction."""
    import numpy as np

    res = lad.results
    scored = res[res["metric"] != LM_LOSS]  # the held-out loss may be logged on its own schedule
    steps = {r: np.unique(g.to_numpy()) for r, g in scored.groupby("run")["step"]}
    rank = {r: i for i, r in enumerate(lad.run_table.sort_values(["n", "d"]).index)}  # smallest first
    out = []
    for task in tasks:
        missing = []
        for sr in sorted(lad.series(task, ACC), key=lambda sr: rank.get(sr.run, len(rank))):
            have = np.unique(np.asarray(sr.step))
            run_steps = steps.get(sr.run, have)
            inside = run_steps[(run_steps > have[0]) & (run_steps < have[-1])]
            k = len(np.setdiff1d(inside, have))
            if k:
                missing.append(f"{sr.run} ({k} missing)")
        if missing:
            out.append(f"task {task!r} has no accuracy at some checkpoints where the run's other tasks do, on "
                       f"{_run_list(missing)}: step 2 fits the checkpoints it has (an evaluation that failed?)")
    return out
