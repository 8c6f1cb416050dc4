"""One call from a ladder to a table, for notebooks and scripts: each is a command's ``--json``.

``taskladder.predict(n=7e9, d=4e12)`` is what ``taskladder predict --n 7B --tokens 4T --json``
computes, as a DataFrame: the same fits (and the same cache of them), the same intervals, the
same warnings (as :class:`errors.InputWarning`).  The ladder may be the bundled one, ladder files
or folders (any format ``--ladder`` reads), or a tidy DataFrame already in memory.  Likewise
:func:`forecast_target` (``forecast``), :func:`compare_ladders` (``compare``), :func:`backtest`
(``backtest``), :func:`describe_ladder` (``data``), :func:`plan_ladder` (``plan``) and
:func:`read_ladder` (``export``'s table) and :func:`compute_to_reach` (``reach``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import FitWarning, InputWarning, TaskladderError, recording_input_warnings
from . import provenance

__all__ = ["backtest", "compare_ladders", "compute_to_reach", "describe_ladder", "forecast_target", "plan_ladder",
           "predict", "read_ladder"]

#: Per-row dicts of the automatic prediction (weights and each pipeline's prediction and SD):
#: left out of the table; ``trust.auto_predict(...).weights`` has them as rows.
_NESTED = ("weights", "design_predictions", "design_sd")


def predict(n=None, d=None, *, ladder=None, tasks: Sequence[str] | str | None = None, targets: Sequence[str] | str = (),
            design: str = "auto", level: float | None = None, sizes: str | Path | None = None,
            flops=None, mean: bool = False, tokens=None) -> pd.DataFrame:
    """Predict the task accuracies of one or more targets from a ladder.

    n, d: the target's non-embedding parameters and training tokens, as numbers or counts
        such as ``"7B"`` and ``"4T"``, d also as a multiple of each target's Chinchilla budget 20 N
        (``"2xC"``); equal-length sequences predict several targets, and a single value beside a
        sequence is shared by all of them.  ``tokens=`` is another name for d, as the CLI's ``--tokens``.
    ladder: None for the bundled OLMo 2 ladder; a tidy DataFrame (``run, step, task, metric,
        value`` and ``n``, ``d``, as ``taskladder export`` writes); or a path or list of paths
        of files and folders in any format ``--ladder`` reads (docs/ingest.md).
    tasks: task names (a list, or comma-separated; 'paper' for the paper's eight, 'all' for every
        task the ladder has accuracy for); default: the paper's tasks the ladder
        has accuracy for, else every task it has.
    targets: names of bundled targets (``"7B-4T"``, ``"13B-5T"``; a list, or comma-separated),
        predicted with their actuals;
        with d alone, each at d tokens instead (named ``7B-4T@8e+12``, without an actual unless d is
        within 5% of its log's end).
    design: ``"auto"`` (every pipeline weighted by backtest, with an interval) or one fixed
        pipeline: ``task_bpb`` (the paper's; also ``"paper"``, as the CLI's ``--paper``), ``flops`` (C = 6ND),
        ``flops_olmo`` (OLMo's logged FLOPs), ``taskce``, ``c4``, ``single_step``.
    level: the interval's level (default 0.9; automatic choice only: a fixed pipeline gives no interval).
    sizes: a size table (CSV with ``size,n[,batch_tokens]``) for ladder files that name sizes, not N.
    flops: training budgets C = 6 N D (one, or a sequence) with n or d, which they complete
        (``flops=[1e22, 1e23], d="1xC"``: the Chinchilla-optimal targets of two budgets).
    mean: also a row per target whose ``task`` is ``"mean"``: the mean over the tasks, with an
        interval of its own (automatic choice only; :mod:`taskladder.aggregate`), and the mean of
        the actuals where every task has one; ``tasks`` lists the tasks it averages.

    Returns one row per task and target: ``task, target, n, d, predicted`` (the target's N and
    tokens as numbers, for a sweep's plot; the prediction a fraction), and for the automatic
    choice ``lower, upper, sd, level, interval, pipeline``, else the chain's
    ``predicted_feature`` and fit errors; ``actual`` and ``abs_error`` (points) for bundled targets.
    """
    design = "task_bpb" if design == "paper" else design
    if level is not None and design != "auto":
        raise TaskladderError(f"level sets the automatic prediction's interval; design {design!r} gives none")
    level = _level(0.9 if level is None else level)
    if mean and design != "auto":
        raise TaskladderError(f"mean=True: the mean over tasks takes its interval from the automatic choice's "
                              f"backtest; design {design!r} gives none (average its rows instead)")
    d, said = _alias(d, tokens, "d", "tokens")
    return _predict(_targets(n, d, flops, targets, said), ladder, tasks, design, level, sizes, mean)


def _targets(n, d, flops, targets, said: str = "d") -> list:
    """The targets of a call: (n, d) pairs, a budget with one of them, and bundled names; ``said``:
    the name d was given under, for the errors."""
    from .datasets import make_targets
    from .units import parse_count, parse_flops, parse_tokens

    for what, v in (("n", n), (said, d), ("flops", flops)):
        if v is not None and np.ndim(v) > 0 and np.size(v) == 0:
            raise TaskladderError(f"{what}: an empty sequence names no target")
    if isinstance(targets, str):  # "7B-4T" or "7B-4T,13B-5T", as tasks="mmlu,piqa"; not its characters
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    if flops is not None:  # n or d, each one value or a sequence; the budget sets the other
        def each(v, parse):
            return None if v is None else parse(v) if np.ndim(v) == 0 else [parse(x) for x in v]

        return make_targets(tuple(targets), n=each(n, lambda a: parse_count(str(a), "n")),
                            tokens=each(d, lambda b: _one(parse_tokens(str(b), said), said)),
                            flops=each(flops, lambda c: parse_flops(str(c), "flops")))
    if targets and n is None and d is not None:  # the bundled targets at d tokens, as the CLI's --target with --tokens
        ds = [_one(parse_tokens(str(b), said), said) for b in np.atleast_1d(np.asarray(d, dtype=object))]
        return make_targets(tuple(targets), tokens=ds if np.ndim(d) else ds[0])
    if (n is None) != (d is None):
        raise TaskladderError(f"a target needs both n (parameters) and {said} (training tokens), or flops and one "
                              "of them")
    ns = ds = None
    if n is not None:
        ns, ds = np.atleast_1d(np.asarray(n, dtype=object)), np.atleast_1d(np.asarray(d, dtype=object))
        if np.ndim(n) == 0 or np.ndim(d) == 0:  # one value for every target, as the CLI's --tokens 4T
            ns, ds = np.broadcast_arrays(ns, ds)
        if len(ns) != len(ds):
            raise TaskladderError(f"n and {said} must have the same length, got {len(ns)} and {len(ds)}")
        ns, ds = [parse_count(str(a), "n") for a in ns], [_one(parse_tokens(str(b), said), said) for b in ds]
    chosen = make_targets(tuple(targets), n=ns, tokens=ds)  # labels as the CLI's: N=...,D=...
    if not chosen:
        raise TaskladderError(f"no target: give n and {said}, or targets=['7B-4T', ...]")
    return chosen


def _predict(chosen, ladder, tasks, design: str, level: float, sizes, mean: bool = False) -> pd.DataFrame:
    from . import serve

    source, names = _ladder_tasks(ladder, tasks, sizes)
    if mean:  # said before any fit
        _two_tasks(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FitWarning)  # a fixed design's are in its flags column
        if design == "auto":
            got = serve.auto_prediction(chosen, names, source, _path(sizes), level=level)
        else:
            got = serve.fixed_prediction(chosen, names, (design, None, None, None), source, _path(sizes))
    for note in got.notes:
        warnings.warn(note, InputWarning, stacklevel=3)  # at the caller of predict
    rows = [*got.rows, *(got.mean if mean else ())]
    return _stamped(pd.DataFrame([{k: v for k, v in r.items() if k not in _NESTED} for r in rows]),
                    ladder=provenance.source(ladder, sizes))


def compute_to_reach(accuracy, *, tasks: Sequence[str] | str | None = None, n=None, d=None, ladder=None,
                     level: float | None = None, sizes: str | Path | None = None, tokens=None) -> pd.DataFrame:
    """How large a target must be for its automatic prediction to reach an accuracy, as
    ``taskladder reach --json`` answers it (:mod:`taskladder.reach`).

    accuracy: the goal as a fraction for every task (0.6), a dict of task -> fraction
        (``{"mmlu": 0.55, "mean": 0.65}``, ``mean`` the mean over ``tasks``), or the CLI's
        text in points (``"mmlu=55,mean=65"``).
    tasks, ladder, sizes, level: as :func:`predict`'s.
    n, d: the targets searched fix one of them: ``n`` (the tokens grow), ``d`` as a count
        (``"4T"``: N grows) or a multiple of 20 N (``"5xC"``); neither: ``d="1xC"``.  ``tokens=``:
        another name for d.

    Returns one row per goal: ``compute`` (6 N D), ``n`` and ``d`` where the prediction reaches it,
    ``compute_lower`` / ``compute_upper`` (and their N and D) where the interval's upper and lower
    bounds do, how each was found (``reached*``: ``yes``, ``at start`` or ``no``), and the search's
    range (:func:`taskladder.reach.reach_rows`).
    """
    from .reach import family_of, reach

    d, said = _alias(d, tokens, "d", "tokens")
    family = family_of(n, d, ("n", said))
    level = _level(0.9 if level is None else level)
    source, names = _ladder_tasks(ladder, tasks, sizes)
    if isinstance(accuracy, dict):  # checked as fractions by reach, as the CLI's points by parse_goals
        goals = {k: _number(v, f"accuracy[{k!r}]") for k, v in accuracy.items()}
    elif isinstance(accuracy, str):
        goals = accuracy
    else:
        goals = {t: _number(accuracy, "accuracy") for t in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FitWarning)
        got = reach(goals, family, names, source, _path(sizes), level=level)
    for note in got.notes:
        warnings.warn(note, InputWarning, stacklevel=2)
    return _stamped(got.table, ladder=provenance.source(ladder, sizes))


def _ladder_tasks(ladder, tasks, sizes) -> tuple:
    """The ladder as the library's calls take it (a DataFrame checked and indexed once here, not by
    each call after; files as paths; None for the bundled one) and the tasks named or its default."""
    from . import serve
    from .tasks import parse_names

    if serve._is_frame(ladder):
        source = serve._frame_ladder(ladder, _path(sizes))
    else:
        source = None if ladder is None else serve.as_paths(ladder)
    return source, serve.default_tasks(source, _path(sizes), named=parse_names(tasks or None))


def _two_tasks(names: Sequence[str]) -> None:
    """``mean=True`` averages over the tasks: refused for fewer than two."""
    if len(names) < 2:
        raise TaskladderError(f"mean=True needs two tasks or more, got {', '.join(names)}")


def _stamped(df: pd.DataFrame, **sources) -> pd.DataFrame:
    """``df`` with ``attrs["provenance"]``: what the CLI's JSON says of its sources (pandas keeps
    attrs through filtering and writes them into Parquet files)."""
    df = df.copy(deep=False)  # its own attrs: a table from a cache may be handed out again
    df.attrs["provenance"] = provenance.stamp(**sources)
    return df


def _alias(value, other, name: str, other_name: str) -> tuple:
    """An argument that has two names (``d`` and ``tokens``, the CLI's ``--tokens``): its value and
    the name it was given under, for the errors; both at once is an error, since they could differ."""
    if other is None:
        return value, name
    if value is not None:
        raise TaskladderError(f"{name} and {other_name} name the same thing, the training tokens; give one")
    return other, other_name


def _number(value, what: str) -> float:
    """A float argument given as a number or a numeric string ("0.9"), else one clear error."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TaskladderError(f"{what} must be a number, got {value!r}") from None


def _level(level) -> float:
    from .units import parse_level

    return parse_level(level, "level")


def _one(value, what: str):
    """One value of n or d per target (a sequence of them is the call's own list)."""
    if isinstance(value, list):
        raise TaskladderError(f"{what}: one value per target, got {len(value)} in one string; give a list")
    return value


def _path(p) -> Path | None:
    return None if p is None else Path(p)


def forecast_target(log=None, *, target: str | None = None, n=None, tokens=None, upto: float | None = None,
                    ladder=None, tasks: Sequence[str] | str | None = None, level: float = 0.9,
                    sizes: str | Path | None = None, mean: bool = False, d=None) -> pd.DataFrame:
    """Forecast where a running target will land from its own checkpoints so far.

    log: the target's eval log: a file or folder in any format ``--ladder`` reads, or a tidy
        DataFrame (``run, step, task, metric, value`` and ``d``; ``n`` or the n argument);
        or target: a bundled target's name (``"7B-4T"``), its log replayed.
    n: the target's non-embedding parameters (``"6.9B"``), for a log without them.
    tokens: where to forecast (``"4T"`` or ``"2xC"``, the planned end; default: the log's last checkpoint);
        ``d=`` is another name for it, as :func:`predict` calls the tokens.
    upto: replay: keep only the log's first ``upto`` fraction of steps.
    ladder, tasks, sizes: as :func:`predict`'s.  level: the interval's level.

    Returns one row per task, as ``taskladder forecast --json``'s ``forecasts``: ``predicted``,
    ``lower``, ``upper`` (fractions), ``predicted_loss``, ``ladder_predicted``, and ``actual``
    with the errors where a replay's log goes on past the cut, or at a bundled target's final
    checkpoint (7B-4T's lies past its log: ``tokens=3945065873408``).  With ``mean``, a last row
    whose ``task`` is ``"mean"``: the mean over the tasks, with its own interval (``tasks`` lists
    them; :func:`forecast.mean_forecast`).  What the ladder or the log cannot tell is said as
    :class:`errors.InputWarning`.
    """
    from .forecast import ForecastConfig, forecast_run
    from .tasks import parse_names
    from .units import parse_count, parse_tokens

    tokens, said = _alias(tokens, d, "tokens", "d")
    level = _level(level)
    if target is not None and not isinstance(target, str):  # one log: a list of one name is that name
        names = list(target) if isinstance(target, (list, tuple)) else [target]
        if len(names) != 1 or not isinstance(names[0], str):
            raise TaskladderError(f"target: one bundled target's name ('7B-4T'), got {target!r}; forecast one at a time")
        target = names[0]
    upto = None if upto is None else _number(upto, "upto")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FitWarning)
        res = forecast_run(target, log, n=parse_count(str(n), "n") if n is not None else None, ladder=ladder,
                           sizes=_path(sizes), tokens=_one(parse_tokens(str(tokens), said), said)
                           if tokens is not None else None,
                           upto=upto, tasks=parse_names(tasks or None), config=ForecastConfig(level=level))
    if mean:
        _two_tasks(list(res.forecasts["task"]))
    table = pd.concat([res.forecasts, res.mean], ignore_index=True) if mean else res.forecasts
    return _stamped(table, ladder=provenance.source(ladder, sizes),
                    **({} if log is None else {"target_log": provenance.source(log)}))


def compare_ladders(baseline, candidate, n=None, d=None, *, targets: Sequence[str] | str = (), flops=None,
                    tasks: Sequence[str] | str | None = None, level: float = 0.9,
                    sizes: str | Path | None = None, mean: bool = False, tokens=None) -> pd.DataFrame:
    """Candidate minus baseline at each target, per task, as ``taskladder compare --json``.

    baseline, candidate: two ladders (a data mix, an architecture...), each a file or folder in
        any format ``--ladder`` reads, or a tidy DataFrame; at least 10 runs each.
    n, d (or tokens), targets, flops: the targets, as :func:`predict`'s.  tasks, level, sizes: likewise.

    Returns one row per task and target (and its ``n``, ``d``): ``baseline``, ``candidate`` (each
    ladder's prediction with the weights they share), ``difference``, ``lower``, ``upper`` (at ``level``), ``sd``,
    ``matched_runs``, ``paired``, and ``compute_multiplier`` with its ``multiplier_lower`` and
    ``multiplier_upper`` (the compute the baseline's prediction needs to match the candidate's, over
    the target's; None beyond 1000x either way); with ``mean``, a last row per target whose ``task`` is ``"mean"``:
    the difference of the mean over the tasks, with its own interval (``tasks`` lists them).  What
    either ladder cannot tell is said as :class:`errors.InputWarning`.
    """
    from .compare import compare, read_pair
    from .tasks import parse_names

    level = _level(level)
    d, said = _alias(d, tokens, "d", "tokens")
    chosen, _ = recording_input_warnings(_targets, n, d, flops, targets, said)  # a comparison shows no actuals: nor their notes
    la, lb, names = read_pair(baseline, candidate, parse_names(tasks or None), _path(sizes))
    if mean:  # said before any fit
        _two_tasks(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FitWarning)
        table, notes = recording_input_warnings(compare, la, lb, chosen, names, level, mean=mean)
    for note in notes:  # at the caller's line
        warnings.warn(note, InputWarning, stacklevel=2)
    return _stamped(table.drop(columns=["weights"], errors="ignore"),
                    baseline=provenance.source(baseline, sizes), candidate=provenance.source(candidate, sizes))


def read_ladder(paths=None, *, sizes: str | Path | None = None, mixed_conventions: bool = False) -> pd.DataFrame:
    """The tidy table (``run, size, n, d, step, task, metric, value``) of ladder files or folders
    in any format ``--ladder`` reads (lm-eval, lighteval, OLMES, OLMo-core, W&B exports,
    taskladder's own), as ``taskladder export`` writes it; reading warnings as
    :class:`errors.InputWarning`.  None: the bundled ladder's; a DataFrame: that table checked
    as a long-format file is (errors name its column and index label)."""
    from .results import load_sizes, read_results
    from .serve import _frame_ladder, _is_frame, as_paths

    if paths is None:
        from .datasets import olmo2_ladder

        return olmo2_ladder().ladder
    if _is_frame(paths):
        return _frame_ladder(paths, _path(sizes)).results
    return read_results(as_paths(paths), sizes=load_sizes(sizes) if sizes is not None else None,
                        mixed_conventions=mixed_conventions)


def describe_ladder(ladder=None, *, sizes: str | Path | None = None, mixed_conventions: bool = False,
                    figures: str | Path | None = None):
    """What ``taskladder data --json`` describes, before any fit: a
    :class:`describe.LadderDescription` whose ``runs`` (one row per run: N, final tokens, the
    Chinchilla multiple reached and the one its name plans, whether it falls short, checkpoints,
    tasks scored) and ``tasks`` (one row per task with accuracy) are DataFrames, ``notes`` the
    warnings every prediction from the ladder carries, ``holes`` the evaluations that seem to
    have failed, and ``supports`` which predictions its run count allows.

    ladder, sizes: as :func:`predict`'s.  figures: a folder to draw every run's accuracy and task
    loss over training in (``accuracy.png``, ``task_loss.png``; their paths in ``figures``)."""
    from .serve import _is_frame, as_paths, ladder_description

    source = ladder if ladder is None or _is_frame(ladder) else as_paths(ladder)
    return ladder_description(source, _path(sizes), mixed_conventions, _path(figures), fresh=True).description


def plan_ladder(n="6887575552", d=None, *, sizes: Sequence[str] | str = "auto",
                multiples: Sequence[float] = (1, 2, 5, 10), seq_len: int = 4096, budget=None, ladder=None,
                mixed_conventions: bool = False, figure: str | Path | None = None, tokens=None) -> pd.DataFrame:
    """The ladder to train for a target, as ``taskladder plan --out``'s table: one row per rung
    (size, N, shape, batch, peak and final learning rate, warmup, tokens, steps, checkpoint
    interval, FLOPs and their share of the target's 6ND).

    n, d (or tokens): the target, as :func:`predict`'s (default: OLMo 2 7B-4T, N = 6,887,575,552
        and D = 3,945,065,873,408, for which the plan is the paper's ladder).  sizes: OLMo 2 size
        names (a list, or comma-separated) or ``"auto"``: four sizes below the target.  multiples: Chinchilla multiples of each size's 20 N.
        seq_len: the sequence length.  budget: refuse plans above this many training FLOPs.
    ladder: the runs so far (files or folders, any format ``--ladder`` reads, or a tidy
        DataFrame): adds each rung's ``run``, ``reached_tokens``, ``share`` of its planned tokens
        and ``status`` (done, training, not started).  mixed_conventions: as ``--mixed-conventions``.
    figure: a PNG path to draw the plan at (``plan.png``).

    A plan that is no ladder for its target (a rung as large as it, a cost over 10% of its
    compute) and runs that match no rung are said as :class:`errors.InputWarning`.
    """
    from .planprogress import plan_and_progress
    from .ladder import PlanConfig, plan_table, size_names
    from .serve import _is_frame, as_paths
    from .units import parse_count, parse_flops, parse_tokens, resolve_tokens

    d, said = _alias(d, tokens, "d", "tokens")
    target_n = parse_count(str(n), "n")
    tokens = resolve_tokens(_one(parse_tokens(str("3945065873408" if d is None else d), said), said), target_n, said)
    names = size_names(sizes if isinstance(sizes, str) else ",".join(sizes), target_n)
    mults = tuple(_number(m, "multiples") for m in ([multiples] if np.ndim(multiples) == 0 else multiples))
    cfg = PlanConfig(target_n=target_n, target_tokens=tokens, seq_len=seq_len, sizes=names, multiples=mults,
                     budget_flops=parse_flops(str(budget), "budget") if budget is not None else None)
    runs = ladder if ladder is None or _is_frame(ladder) else as_paths(ladder)
    rungs, notes, progress = plan_and_progress(cfg, runs, mixed_conventions)
    if figure is not None:
        from .plots import plot_plan

        plot_plan(rungs, cfg.target_n, cfg.target_tokens, Path(figure), progress)
    for note in notes:  # at the caller's line
        warnings.warn(note, InputWarning, stacklevel=2)
    return _stamped(plan_table(rungs, progress),
                    **({"ladder": provenance.source(ladder)} if ladder is not None else {}))


def backtest(ladder=None, *, tasks: Sequence[str] | str | None = None, holdout: int = 4, level: float = 0.9,
             sizes: str | Path | None = None, calibration: bool = False) -> pd.DataFrame:
    """How far to trust a ladder, as ``taskladder backtest --json``'s ``runs``: every pipeline
    refitted without the ``holdout`` largest runs (by N, and by compute) and scored on them, one
    row per split, task, pipeline (``design``) and held-out run (``predicted``, ``actual``,
    ``abs_error`` in points, ``covered`` by its own interval at ``level``, ``log_extrapolation``).
    ``calibration=True``: the automatic
    prediction replayed on the ladder's own splits instead (``backtest --calibration``), one row
    per task and level (``all``: pooled) with ``coverage`` and ``half_width``.

    ladder, tasks, sizes: as :func:`predict`'s.
    """
    from .calibration import calibration_table, rolling_auto
    from .serve import load_ladder
    from .tasks import ACC, choose_tasks, parse_names
    from .trust import ALL_DESIGNS, backtest_table

    level = _level(level)
    k = _number(holdout, "holdout")
    if k != int(k) or k < 1:
        raise TaskladderError(f"holdout must be a whole number of runs, at least 1, got {holdout!r}")
    holdout = int(k)
    lad = load_ladder(ladder, _path(sizes))
    names = choose_tasks(parse_names(tasks or None), [t for t in lad.tasks if lad.has(t, ACC)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FitWarning)
        if calibration:
            rolled = rolling_auto(lad.results, names)
            if rolled.empty:
                raise TaskladderError("no split of this ladder leaves the 10 runs the automatic prediction needs "
                                      "to train on")
            return _stamped(calibration_table(rolled), ladder=provenance.source(ladder, sizes))
        return _stamped(backtest_table(lad, names, ALL_DESIGNS, holdout=holdout, level=level),
                        ladder=provenance.source(ladder, sizes))
