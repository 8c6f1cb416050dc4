"""``taskladder reproduce`` as one library call: the paper's Figure 2 recomputed from the
bundled ladder, its analyses (sections 5-6, appendix B.2), the automatic prediction of
the same targets, and every table and figure written together (all or none)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import io

#: What :func:`run` does, in order (the last only with figures): the CLI's progress stages.
STAGES = ("fitting the paper's design (8 tasks)", "design choices, MC format, variance",
          "automatic choice: backtests and bootstraps", "drawing figures")


@dataclass(frozen=True)
class Reproduced:
    """What :func:`run` computed and wrote."""

    result: dict
    """The content of ``reproduce.json``."""
    predictions: pd.DataFrame
    """The paper's design per task and target, the paper's values beside ours."""
    auto: pd.DataFrame
    """The automatic prediction with its 90% intervals."""
    design: pd.DataFrame
    """Every pipeline of section 6 (:func:`analyses.design_choices`)."""
    variance: pd.DataFrame
    """Table 4 (:func:`analyses.variance`)."""


def fits_json(fits) -> dict:
    """Each task's chained fit: formula, and each step's parameters, fit error and flags."""
    return {task: {
        "formula": f.formula(),
        "step1": {**f.step1_.params_, "fit_error": f.step1_.fit_error_, "flags": f.step1_.flags_},
        "step2": {**f.step2_.params_, "fit_error": f.step2_.fit_error_, "flags": f.step2_.flags_},
    } for task, f in fits.items()}


def run(out: Path, figures: bool = True, next_stage: Callable[[], None] = lambda: None) -> Reproduced:
    """Recompute and write everything ``reproduce`` writes into ``out``; ``next_stage()`` is
    called as each of :data:`STAGES` ends.  Files are written into a hidden folder and moved
    in only when all are done, so an interrupted run leaves none."""
    from . import analyses
    from .chain import ChainConfig
    from .paper import FIGURE2_MAE
    from .paper import reproduce as figure2
    from .provenance import source, stamp
    from .tasks import ALL_TASKS, PAPER_TASKS
    from .trust import auto_predict

    io.ensure_writable_dir(out)  # fail before the work, not after it
    rep = figure2()
    targets = [rep.data.targets[t] for t in rep.predictions["target"].unique()]
    next_stage()
    extra = analyses.run_all(rep.ladder, targets, PAPER_TASKS, ALL_TASKS)
    next_stage()
    got = auto_predict(rep.ladder, targets, PAPER_TASKS)
    auto = got.predictions
    preds = rep.predictions
    design, var = extra["design_choices"], extra["variance"]
    result = {
        "predictions": io.records(preds),
        "mean_abs_error": rep.mean_abs_error(),
        "paper_mean_abs_error": FIGURE2_MAE,
        "design_choices": io.records(design),
        "variance": io.records(var),
        "variance_correlation": extra.get("variance_correlation"),
        "mc": io.records(extra["mc"]) if "mc" in extra else [],
        "auto": io.records(auto[["task", "target", "predicted", "lower", "upper", "level", "interval", "actual",
                                 "pipeline", "abs_error", "covered"]]),
        "auto_mean_abs_error": auto.groupby("target", sort=False)["abs_error"].mean().to_dict(),
        # the mean over the 8 tasks, per target, with its own interval (taskladder.aggregate)
        "auto_mean": io.records(got.mean[["target", "tasks", "predicted", "lower", "upper", "level", "interval",
                                          "actual", "abs_error", "covered"]]),
        "fits": fits_json(rep.fits),
        "config": ChainConfig().__dict__,
        "provenance": stamp(ladder=source()),
    }
    with io.staged(out) as tmp:
        io.write_json(tmp / "reproduce.json", result)
        io.write_table(tmp / "predictions.parquet", preds, result["provenance"])
        io.write_table(tmp / "predictions.csv", preds)
        io.write_table(tmp / "design_choices.parquet", design, result["provenance"])
        io.write_table(tmp / "variance.parquet", var, result["provenance"])
        if figures:
            next_stage()
            from . import plots

            finals = plots.final_accuracy(rep.ladder, rep.fits)
            # costliest first; drawn in parallel over the cores
            plots.draw_all([(plots.plot_step1, (rep.fits, targets, tmp / "step1.png"), {}),
                            (plots.plot_chained, (rep.fits, targets, tmp / "chained.png"), {"final_acc": finals}),
                            (plots.plot_step2, (rep.fits, targets, tmp / "step2.png"), {}),
                            (plots.plot_design_choices, (design, tmp / "design_choices.png"), {}),
                            (plots.plot_summary, (preds, tmp / "summary.png"), {}),
                            (plots.plot_variance, (var, tmp / "variance.png"), {})])
    return Reproduced(result, preds, auto, design, var)
