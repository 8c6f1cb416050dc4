"""How far a ladder's runs have got through its plan: ``taskladder plan --ladder my_runs/``.

A module of its own, apart from :mod:`taskladder.describe`, so that ``taskladder plan`` without
runs imports only the ladder rules: the table readers and pandas (~0.4 s) load only when there are
runs to set against the plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DONE_SHARE", "plan_and_progress", "plan_progress"]

#: A run within this share of its rung's planned tokens has finished (the bundled runs reach
#: 1.0004-1.0015 of the tokens `taskladder plan` gives their rungs).
DONE_SHARE = 0.995


def plan_and_progress(config, ladder=None, mixed_conventions: bool = False) -> tuple[list, list[str], pd.DataFrame | None]:
    """What ``taskladder plan`` shows: the rungs of ``config`` (:class:`ladder.PlanConfig`), the
    warnings about the plan (:func:`ladder.plan_notes`), and with ``ladder`` (files or folders, any
    format ``--ladder`` reads, files without N taking the plan's N and batch; or a tidy DataFrame)
    how far each rung has got (:func:`plan_progress`; None without), whose notes join the plan's."""
    from .ladder import plan, plan_notes
    from .serve import _frame_ladder, _is_frame

    rungs = plan(config)
    notes = plan_notes(config, rungs)
    if not _is_frame(ladder) and not ladder:  # None, or no files
        return rungs, notes, None
    from .results import SizeTable, read_results

    if _is_frame(ladder):  # checked as a long-format file would be
        results = _frame_ladder(ladder).results
    else:
        table = SizeTable({r.size: r.n for r in rungs}, {r.size: r.batch_tokens for r in rungs})
        results = read_results(ladder, sizes=table, mixed_conventions=mixed_conventions)
    progress, more = plan_progress(rungs, results)
    return rungs, notes + more, progress


def plan_progress(rungs, results) -> tuple[pd.DataFrame, list[str]]:
    """How far a ladder has got through its plan (:func:`ladder.plan`'s rungs): per rung the run
    that trains it, the tokens it reached against the planned ones, and its status (``done``,
    ``training`` below DONE_SHARE of them, ``not started``), smallest rung first; and a note
    naming the runs no rung of the plan matches.

    A run trains a rung when its name has the rung's size and Chinchilla multiple
    (``190M-5xC``, also ``190M-5xC-seed2``), or its N is within 2% of the rung's and its name
    has the rung's multiple (``mixB-190M-5xC``); of several (seeds), the furthest along."""
    import pandas as pd

    from .chain import as_ladder
    from .predictor import _run_list
    from .results import parse_run_name

    runs = as_ladder(results).run_table
    parsed = {str(r): parse_run_name(str(r)) for r in runs.index}
    rows, used = [], set()
    for g in rungs:
        match = [r for r, (size, mult) in parsed.items() if mult == g.multiple
                 and (size == g.size or abs(float(runs.loc[r, "n"]) / g.n - 1.0) < 0.02)]
        best = max(match, key=lambda r: float(runs.loc[r, "d"]), default=None)
        used.update(match)
        tokens = 0 if best is None else int(runs.loc[best, "d"])
        share = tokens / g.tokens
        status = "not started" if best is None else "done" if share >= DONE_SHARE else "training"
        rows.append({"rung": g.name, "run": best, "planned": g.tokens, "tokens": tokens, "share": share,
                     "status": status, "flops": 6.0 * g.n * tokens, "planned_flops": g.flops})
    notes = []
    extra = [r for r in runs.sort_values(["n", "d"]).index.astype(str) if r not in used]
    if extra:
        notes.append(f"{len(extra)} of the ladder's runs match no rung of the plan (by size and Chinchilla "
                     f"multiple in the name, or N within 2%): {_run_list(extra)}")
    return pd.DataFrame(rows), notes
