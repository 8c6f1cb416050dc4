"""Predictions (and forecasts) from ladder files, answered from the cache when these files were seen before.

``taskladder predict`` is an interactive command: it must answer in well under a second.
What a prediction needs of a ladder, once fitted, is small and target-free (the automatic
choice's :class:`predictor.TaskState`, a fixed pipeline's :class:`predictor.ChainState`).
Each is cached per task under the SHA-256 of the bytes of the files the ladder is read
from (:func:`_source_hash`), so a repeated prediction, for any target, neither reads a
table nor imports pandas or scipy; on a miss the files are read and the fits made (those
fits are themselves cached by the table's content, docs/speed.md).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from .aggregate import mean_rows
from .errors import InputWarning, TaskladderError, recording_input_warnings
from .predictor import (ChainState, LadderSpan, TaskState, applied_weights, check_accuracies, left_out_notes,
                        predict_rows, prediction_notes)

__all__ = ["AutoPrediction", "Described", "FixedPrediction", "ForecastAnswer", "auto_prediction", "auto_states",
           "default_tasks", "fixed_prediction", "forecast_answer", "ladder_description"]

def _is_frame(ladder) -> bool:
    """Whether ``ladder`` is a results table in memory (a DataFrame, or a :class:`chain.Ladder`), not files."""
    return ladder is not None and not isinstance(ladder, (list, tuple, str, Path))


def _source_hash(ladder, sizes: Path | None, mixed_conventions: bool) -> str | None:
    """SHA-256 of every file the ladder is read from (the bundled one by default; in a folder,
    the files the readers open, :func:`discover.files_read`; each by :func:`discover.fingerprint`:
    its bytes, or a large file's size and modification time), the size table's and
    the reading options; None when a file cannot be read (the full reader then reports it).
    A table in memory (:func:`_is_frame`) is keyed by its content (:attr:`chain.Ladder.content_hash`)."""
    if _is_frame(ladder):  # checked and indexed here; _read finds it by this key
        lad = _frame_ladder(ladder, sizes)
        src = "frame:" + lad.content_hash  # N from a size table is in the table by now
        _last_read.clear()
        _last_read.update(src=src, ladder=lad, said=())
        return src
    h = hashlib.sha256(repr(mixed_conventions).encode())
    files = []
    if ladder:
        from .discover import files_read

        try:
            files = files_read(ladder)
        except (OSError, TaskladderError):
            return None  # the full reader says what is wrong
    else:
        from .datasets import bundled_digest

        h.update(bundled_digest().encode())  # read once per process, shared with the bundled targets
    if sizes is not None:
        files.append(Path(sizes))
    from .discover import fingerprint

    try:
        for f in files:
            h.update(fingerprint(Path(f)).encode())
            h.update(b"\0")
    except OSError:
        return None
    return h.hexdigest()


#: The ladder last read, by its source hash: :func:`default_tasks` and a cache miss of the
#: fitted states read the files once between them.
_last_read: dict = {}


def _read(src: str | None, ladder, sizes, mixed_conventions: bool):
    """The ladder read from its files (the bundled one by default) as a :class:`chain.Ladder`,
    and the reading warnings' messages (said again on a warm prediction; in this process, once)."""
    if src is not None and _last_read.get("src") == src:
        return _last_read["ladder"], _last_read["said"]
    from .chain import Ladder
    from .results import read_results

    if _is_frame(ladder):
        return _frame_ladder(ladder, sizes), ()  # (reached only without a key: _source_hash keeps it)
    if ladder:
        results, said = recording_input_warnings(read_results, list(ladder), sizes=_size_table(sizes),
                                                 mixed_conventions=mixed_conventions)
        for message in said:
            warnings.warn(message, InputWarning, stacklevel=3)
    else:
        from .datasets import olmo2_ladder

        results, said = olmo2_ladder().ladder, ()
    lad = Ladder(results)
    _last_read.clear()
    _last_read.update(src=src, ladder=lad, said=said)
    return lad, said


def _recall(key: str | None, accept: Callable[[object], bool],
            said: Callable[[object], Sequence[str]] = lambda hit: ()):
    """The cache's entry under ``key`` when ``accept`` takes it (an entry of another shape, e.g. from
    an older version of this code, is a miss), after saying again what reading the files warned
    (``said(entry)``), as a fresh read would; None on a miss or without a key."""
    from . import cache

    hit = cache.recall(key) if key is not None else None
    if hit is None or not accept(hit):
        return None
    for message in said(hit):
        warnings.warn(message, InputWarning, stacklevel=3)
    return hit


def load_ladder(ladder=None, sizes: Path | None = None, mixed_conventions: bool = False):
    """A ladder as a :class:`chain.Ladder`: the bundled one (None), a tidy DataFrame or Ladder in
    memory (:func:`_frame_ladder`), or files and folders (a path or a list of them) in any format
    ``--ladder`` reads, their reading warnings said."""
    if ladder is not None and not _is_frame(ladder):
        ladder = as_paths(ladder)
    return _read(None, ladder, sizes, mixed_conventions)[0]


def as_paths(ladder) -> list[Path]:
    """Ladder files or folders given from Python (a path or a list of them) as paths; anything else
    in the list (a DataFrame among paths, a number) is one clear error."""
    if _is_frame(ladder):  # list(frame) would be its column names; callers read a frame themselves
        raise TaskladderError("ladder: a path or a list of paths here; got a DataFrame")
    items = [ladder] if isinstance(ladder, (str, Path)) else list(ladder)
    bad = [p for p in items if not isinstance(p, (str, Path))]
    if bad:
        raise TaskladderError(f"ladder: a path, a list of paths or one tidy DataFrame; got a {type(bad[0]).__name__} "
                              "in a list" + (" (concatenate the frames into one)" if _is_frame(bad[0]) else ""))
    return [Path(p) for p in items]


def _frame_ladder(frame, sizes: Path | None = None):
    """A results table in memory as a :class:`chain.Ladder`: a tidy DataFrame is checked as a
    long-format file would be (errors name "DataFrame" and the column; N from ``sizes`` where
    it has no ``n``).  Every call reads the table afresh: a notebook may have changed it in
    place since the last."""
    from .chain import Ladder

    if isinstance(frame, Ladder):
        return frame
    import pandas as pd

    from .results import FRAME, long_frame_to_tidy

    if not isinstance(frame, pd.DataFrame):
        raise TaskladderError(f"ladder: a path, a list of paths or a tidy DataFrame, got {type(frame).__name__} "
                              f"{frame!r:.40}")

    return Ladder(long_frame_to_tidy(frame, FRAME, sizes=_size_table(sizes)))


def _size_table(sizes):
    """A size table: none, one already read (a mapping of size to N), or the path of its CSV."""
    from collections.abc import Mapping

    from .results import load_sizes

    return None if not sizes else sizes if isinstance(sizes, Mapping) else load_sizes(sizes)


def default_tasks(ladder: Sequence[Path] | None = None, sizes: Path | None = None,
                  mixed_conventions: bool = False, named: Sequence[str] | None = None) -> list[str]:
    """The tasks predicted (:func:`tasks.choose_tasks`): those ``named``, ``all`` standing for
    every task the ladder has accuracy for; none named, the paper's eight on the bundled ladder,
    on ladder files those of them the files have accuracy for.  The tasks with accuracy are kept
    in the cache by the files' bytes like the fits, so a warm prediction still reads no table."""
    from .tasks import ACC, ALL_TASKS, REGISTRY, choose_tasks

    if named and all(t in REGISTRY for t in named):  # nothing to resolve ('ARC-Challenge', 'all')
        return list(named)
    if not _is_frame(ladder) and not ladder:  # the bundled ladder has accuracy for OLMo's ten
        return choose_tasks(named, ALL_TASKS)
    from . import cache

    src = _source_hash(ladder, sizes, mixed_conventions)
    key = cache.key("acc-tasks", src) if src is not None else None
    hit = _recall(key, lambda h: isinstance(h, list) and bool(h))
    if hit is not None:
        return choose_tasks(named, hit)
    lad, _ = _read(src, ladder, sizes, mixed_conventions)
    have = [t for t in lad.tasks if lad.has(t, ACC)]
    if key is not None and have:
        cache.store(key, have)
    return choose_tasks(named, have)


def _states(kind: tuple, tasks: Sequence[str], ladder, sizes, mixed_conventions: bool, state_type: type,
            fit: Callable, progress: Callable[[], None] | None,
            check: Callable[[LadderSpan], None] | None = None) -> tuple[LadderSpan, dict]:
    """Each task's fitted state and the ladder's span, from the cache or by ``fit(ladder, tasks,
    progress)`` on the ladder read from its files.  ``kind`` names what is fitted (part of the key).
    ``check(span)`` runs before any fit: a question the ladder's span already refuses is refused
    after reading the files, not after fitting them."""
    from . import cache

    src = _source_hash(ladder, sizes, mixed_conventions)
    # one entry per task: its fitted state, the ladder's span (for the notes) and what reading
    # the files warned about (said again on every prediction, as a fresh read would)
    keys = {t: cache.key(*kind, src, t) for t in tasks} if src is not None else {}
    hit = _cached_states(keys, tasks, state_type)
    if hit is None:
        # another process fitting the same files and tasks: wait for its states, not fit them again
        with cache.computing(cache.key(*kind, src, tuple(tasks))) if keys else nullcontext():
            hit = _cached_states(keys, tasks, state_type)
            if hit is None:
                return _fit_states(keys, tasks, ladder, sizes, mixed_conventions, src, fit, progress, check)
    span, states, said = hit
    if check is not None:
        check(span)
    for message in said:
        warnings.warn(message, InputWarning, stacklevel=3)
    if progress is not None:
        for _ in tasks:
            progress()
    return span, states


def _cached_states(keys: dict, tasks: Sequence[str], state_type: type):
    """(span, states, what reading warned) when every task's entry is in the cache, else None."""
    from . import cache

    hits = {t: cache.load(k) for t, k in keys.items()}
    if not keys or not all(isinstance(e, tuple) and len(e) == 3 and isinstance(e[0], LadderSpan)
                           and isinstance(e[1], state_type) for e in (hits.get(t) for t in tasks)):
        return None
    return hits[tasks[0]][0], {t: hits[t][1] for t in tasks}, hits[tasks[0]][2]


def _fit_states(keys: dict, tasks: Sequence[str], ladder, sizes, mixed_conventions: bool, src, fit: Callable,
                progress, check) -> tuple[LadderSpan, dict]:
    from . import cache
    from .chain import ladder_span

    lad, said = _read(src, ladder, sizes, mixed_conventions)
    span = ladder_span(lad)
    if check is not None:
        check(span)
    states = fit(lad, list(tasks), progress)
    for t, k in keys.items():
        cache.store(k, (span, states[t], said))
    return span, states


@dataclass
class Described:
    """A ladder described (:func:`ladder_description`)."""

    result: dict
    """:meth:`describe.LadderDescription.to_dict`, and on the bundled ladder its ``targets`` (name, n,
    d, checkpoints): what ``taskladder data`` prints and its ``--json`` holds."""
    description: object = None
    """The :class:`describe.LadderDescription` itself (its tables, the figures drawn), where the
    ladder was read: not on a warm call."""


def ladder_description(ladder=None, sizes: Path | None = None, mixed_conventions: bool = False,
                       figures: Path | None = None, fresh: bool = False) -> Described:
    """The ladder described before any fit, kept in the cache by the files' bytes as a prediction's
    state is, so describing the same files again reads no table and imports no pandas (~0.4 s of a
    1 s command); what reading them warned is said again on every call, as a fresh read would.
    ``figures``: a folder to draw every run's curves in (:func:`describe.draw_curves`), which reads
    the ladder whatever the cache holds; so does ``fresh``, which returns the
    :class:`describe.LadderDescription` itself (its DataFrames, for the Python API)."""
    from . import cache

    src = _source_hash(ladder, sizes, mixed_conventions)
    key = cache.key("description", src) if src is not None else None
    hit = None if figures is not None or fresh else _recall(
        key, lambda h: isinstance(h, tuple) and len(h) == 2 and isinstance(h[0], dict), lambda h: h[1])
    if hit is not None:
        return Described(hit[0])
    from dataclasses import replace

    from .describe import describe, draw_curves

    lad, said = _read(src, ladder, sizes, mixed_conventions)
    desc = describe(lad)
    if figures is not None:
        desc = replace(desc, figures=draw_curves(lad.results, figures))
    result = desc.to_dict()
    if not _is_frame(ladder) and not ladder:
        from .datasets import olmo2_ladder

        result["targets"] = [{"name": t.name, "n": t.n, "d": t.d, "checkpoints": int(t.results["step"].nunique())}
                             for t in olmo2_ladder().targets.values()]
    if key is not None:
        cache.store(key, (result, tuple(said)))
    return Described(result, desc)


@dataclass
class _Rows:
    rows: list[dict]
    """One per task and target."""

    @property
    def predictions(self):
        """The rows as a pandas DataFrame (imported only when asked for)."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def auto_states(tasks: Sequence[str], ladder: Sequence[Path] | None = None, sizes: Path | None = None,
                mixed_conventions: bool = False, progress: Callable[..., None] | None = None,
                check: Callable[[LadderSpan], None] | None = None) -> tuple[LadderSpan, dict[str, TaskState]]:
    """The ladder's span and each task's automatic choice, fitted (:func:`taskladder.trust.fit_states`)
    once per set of files and then read from the cache; ``progress`` as :func:`auto_prediction`'s,
    ``check`` as :func:`_states`'s."""

    def fit(lad, tasks, progress):
        from .trust import fit_states

        return fit_states(lad, tasks, progress=progress)

    return _states(("auto-state",), tasks, ladder, sizes, mixed_conventions, TaskState, fit, progress, check)


@dataclass
class AutoPrediction(_Rows):
    """The automatic prediction of some tasks for some targets (rows: :meth:`predictor.TaskState.predict`)."""

    weights: list[dict]
    """The weights applied (:func:`predictor.applied_weights`)."""
    notes: list[str] = field(default_factory=list)
    """Warnings about the targets (below the ladder, another metric convention)."""
    mean: list[dict] = field(default_factory=list)
    """Per target, the mean over the tasks with its own interval (:func:`aggregate.mean_rows`); none
    for a single task."""

    @property
    def mean_frame(self):
        """:attr:`mean` as a pandas DataFrame, its ``tasks`` as one comma-separated string (a flat table)."""
        import pandas as pd

        from .aggregate import flat

        return flat(pd.DataFrame(self.mean))


def auto_prediction(targets, tasks: Sequence[str], ladder: Sequence[Path] | None = None, sizes: Path | None = None,
                    mixed_conventions: bool = False, level: float = 0.9,
                    progress: Callable[..., None] | None = None) -> AutoPrediction:
    """The automatic prediction of ``tasks`` for ``targets`` from ladder files (the bundled
    ladder by default): each task's automatic choice (:func:`taskladder.trust.fit_states`),
    fitted once per set of files.  ``progress(share=1.0)`` advances by ``share`` of a task
    (each pipeline fitted is a share of its task; a task found cached, a whole one)."""

    span, states = auto_states(tasks, ladder, sizes, mixed_conventions, progress)
    seen: dict = {}  # each (task, target) evaluated once, for its row and for the mean over tasks
    rows = predict_rows(states, tasks, targets, level, seen)
    check_accuracies(rows, span, targets)
    notes = prediction_notes(span, targets, tasks)
    notes += left_out_notes({t: states[t].left_out for t in tasks})
    mean = mean_rows(states, tasks, targets, level, seen) if len(tasks) > 1 else []
    return AutoPrediction(rows, applied_weights(rows, states), notes, mean)


@dataclass
class FixedPrediction(_Rows):
    """One fixed pipeline's prediction of some tasks for some targets (rows: :meth:`predictor.ChainState.rows`)."""

    fits: dict | None
    """Per task, the fitted laws (:meth:`predictor.ChainState.fit_json`); None for the single step."""
    config: dict
    """The pipeline's recipe (a :class:`chain.ChainConfig`'s fields, or the single step's name)."""
    notes: list[str] = field(default_factory=list)
    """Warnings about the targets (below the ladder, another metric convention)."""


#: What a fixed pipeline may be asked for by: a named design, or feature / step-1 / step-2 laws.
Spec = tuple  # (design, feature, step1, step2), each a str or None

#: The names of :data:`analyses.DESIGNS` and ``flops_olmo``, known without importing pandas
#: (``tests/test_cache.py`` keeps the two lists equal).
DESIGN_NAMES = ("task_bpb", "flops", "taskce", "c4", "single_step", "flops_olmo")


def fixed_prediction(targets, tasks: Sequence[str], spec: Spec = ("task_bpb", None, None, None),
                     ladder: Sequence[Path] | None = None, sizes: Path | None = None,
                     mixed_conventions: bool = False, progress: Callable[[], None] | None = None) -> FixedPrediction:
    """One fixed pipeline's prediction of ``tasks`` for ``targets`` from ladder files (the bundled
    ladder by default), fitted once per set of files.  ``spec`` = (design, feature, step1, step2):
    a named design (:data:`analyses.DESIGNS`, ``flops_olmo``), or with design None the
    ``predict --feature/--step1/--step2`` pipeline.  ``progress`` is called once per task."""
    design = spec[0]
    if design is not None and design not in DESIGN_NAMES:
        raise TaskladderError(f"unknown design {design!r}; choose from {', '.join(DESIGN_NAMES)}")

    def fit(lad, tasks, progress):
        from .analyses import design_config, single_step_key, single_step_law
        from .chain import fit_predictors
        from .parallel import fits_over_cores

        cfg = design_config(design, lad, targets) if design else chain_config(*spec[1:])
        if cfg is not None:  # the tasks' fits over the cores
            fits = fit_predictors(lad, [(t, cfg) for t in tasks], progress=progress)
            return {t: ChainState.of(f) for t, f in zip(tasks, fits)}
        laws = fits_over_cores(single_step_law, [(lad, t) for t in tasks], progress=progress,
                               keys=[single_step_key(lad, t) for t in tasks])
        return {t: ChainState(t, law, None, config={"design": "single_step"}) for t, law in zip(tasks, laws)}

    if design == "flops_olmo":  # every target's compute must be known, fitted or not (the ladder's: at the fit)
        from .ladder import OLMO_FLOPS_UNKNOWN, known_flops_per_token

        if any(known_flops_per_token(int(t.n)) is None for t in targets):
            raise TaskladderError(OLMO_FLOPS_UNKNOWN)
    span, states = _states(("fixed-state", tuple(spec)), tasks, ladder, sizes, mixed_conventions, ChainState, fit,
                           progress)
    rows = [r for t in tasks for r in states[t].rows(targets)]
    check_accuracies(rows, span, targets)
    first = states[tasks[0]]
    fits = None if first.step2 is None else {t: states[t].fit_json() for t in tasks}
    return FixedPrediction(rows, fits, first.config, prediction_notes(span, targets, tasks))


def chain_config(feature: str | None, step1: str | None, step2: str | None):
    """The fixed pipeline of ``predict --feature/--step1/--step2`` (defaults bpb, nd, the
    feature's law), on the paper's recipe for that feature: TaskCE keeps appendix C.2's
    settings (log-sigmoid, last 50%, no smoothing, no anchor)."""
    from dataclasses import replace

    from .analyses import DESIGNS
    from .chain import ChainConfig

    feature = feature or "bpb"
    base = DESIGNS["taskce"] if feature == "taskce" else ChainConfig(feature=feature)
    return replace(base, step1=step1 or "nd", step2=step2 or base.step2)


@dataclass
class ForecastAnswer:
    """What ``taskladder forecast`` says: ``result`` (its ``--json`` object, the forecasts as
    JSON-ready records) and the notes; ``run`` (:class:`forecast.ForecastResult`, for figures
    and tables) only when computed in this call."""

    result: dict
    notes: tuple[str, ...]
    run: object = None


def forecast_answer(target: str | None, target_file: Path | None, *, n: int | None = None, ladder=None,
                    sizes: Path | None = None, mixed_conventions: bool = False, tokens=None,
                    upto: float | None = None, tasks: Sequence[str] | None = None, level: float = 0.9,
                    fresh: bool = False) -> ForecastAnswer:
    """A forecast (:func:`forecast.forecast_run`) answered from the cache when the same ladder
    files, target log and options were forecast before: keyed by their bytes
    (:func:`_source_hash`), so a repeated forecast reads no table and imports no pandas, as a
    repeated ``predict`` does.  ``fresh`` computes it anyway (and returns ``run``)."""
    from . import cache
    from .datasets import bundled_digest

    src = None if _is_frame(ladder) else _source_hash(ladder, sizes, mixed_conventions)
    log = ("bundled", target, bundled_digest()) if target is not None else (
        None if target_file is None else _source_hash([Path(target_file)], sizes, False))
    k = None if src is None or log is None else cache.key(
        "forecast-answer", src, log, n, tokens, upto, None if tasks is None else tuple(tasks), level)
    hit = None if fresh else _recall(k, lambda h: isinstance(h, ForecastAnswer))  # its notes are in the answer
    if hit is not None:
        return hit
    from . import io
    from .forecast import ForecastConfig, forecast_run

    cfg = ForecastConfig(level=level)
    res, notes = recording_input_warnings(forecast_run, target, target_file, n=n, ladder=ladder, sizes=sizes,
                                          mixed_conventions=mixed_conventions, tokens=tokens, upto=upto,
                                          tasks=tasks, config=cfg)
    table = res.forecasts
    result = {"target": res.name, "n": res.n, "upto": upto, "forecasts": io.records(table),
              "mean": io.records(res.mean),  # over the tasks, with its own interval (forecast.mean_forecast)
              "mean_abs_error": None if table["abs_error"].isna().all() else float(table["abs_error"].mean()),
              "ladder_mean_abs_error": None if table["ladder_abs_error"].isna().all()
              else float(table["ladder_abs_error"].mean()),
              "config": cfg.__dict__, "notes": list(notes)}
    answer = ForecastAnswer(result, tuple(notes))
    if k is not None:
        cache.store(k, answer)
    return ForecastAnswer(result, tuple(notes), res)


@dataclass
class ComparisonAnswer(_Rows):
    """Two ladders compared at some targets (rows: :func:`compare.pair_rows`, the tasks'), the mean
    over the tasks per target, and the notes (:func:`compare.pair_notes`)."""

    mean: list[dict]
    notes: list[str]


def comparison_answer(baseline, candidate, targets, tasks: Sequence[str] | None = None, sizes: Path | None = None,
                      level: float = 0.9, progress: Callable[[int], tuple] | None = None) -> ComparisonAnswer:
    """``taskladder compare``: candidate minus baseline (each a ladder's files or folders) at
    ``targets``, per task (``tasks`` as given: None for those both have accuracy for) and their mean.
    What the comparison knows before any target (:func:`compare.pair_state`) is kept in the cache
    by both ladders' files' bytes, as a prediction's state is, so comparing the same ladders again,
    at any target, reads no table and imports no pandas; what reading them warned is said again.
    ``progress(n_tasks)`` gives (a context manager, an advance callback) once the tasks are known."""
    from . import cache
    from .aggregate import MEAN
    from .compare import PairState, pair_notes, pair_rows

    srcs = [_source_hash(as_paths(x), sizes, False) for x in (baseline, candidate)]
    key = None if None in srcs else cache.key("compare-state", *srcs, None if tasks is None else tuple(tasks))
    state = _recall(key, lambda h: isinstance(h, PairState), lambda h: h.said)
    if state is None:
        from .compare import pair_state, read_pair

        (la, lb, names), said = recording_input_warnings(read_pair, baseline, candidate, tasks, sizes)
        for message in said:  # said now, and again whenever the state comes from the cache
            warnings.warn(message, InputWarning, stacklevel=2)
        prog, advance = progress(len(names)) if progress is not None else (nullcontext(), None)
        with prog:
            state, fitting_said = recording_input_warnings(pair_state, la, lb, names, progress=advance)
        state.said, state.fitting_said = tuple(said), tuple(fitting_said)
        if key is not None:
            cache.store(key, state)
    rows = pair_rows(state, targets, level, mean=True)
    return ComparisonAnswer([r for r in rows if r["task"] != MEAN], [r for r in rows if r["task"] == MEAN],
                            [*state.fitting_said, *pair_notes(state, targets)])


@dataclass
class BacktestAnswer:
    """What ``taskladder backtest`` says: ``result`` (``summary`` and ``runs`` as JSON-ready records,
    the ladder's ``notes``), ``held`` (which runs each split held out, for the table's caption),
    what reading the files warned, and ``table`` (the per-run DataFrame, for ``--out``) only when
    computed in this call."""

    result: dict
    held: str
    designs: tuple
    """The pipelines scored, in the tables' order (:data:`trust.ALL_DESIGNS`)."""
    said: tuple = ()
    table: object = None


def backtest_answer(tasks: Sequence[str], ladder=None, sizes: Path | None = None, mixed_conventions: bool = False,
                    holdout: int = 4, level: float = 0.9, progress: Callable[..., None] | None = None,
                    fresh: bool = False) -> BacktestAnswer:
    """Every pipeline of ``tasks`` scored on the ladder's ``holdout`` largest runs
    (:func:`trust.backtest_table`, its fits cached per task), answered from the cache when the same
    files and options were backtested before: keyed by their bytes (:func:`_source_hash`), so a
    repeated backtest reads no table and imports no pandas, as a repeated prediction does.  What
    reading the files warned is said again.  ``fresh`` computes it anyway (and returns ``table``)."""
    from . import cache

    src = _source_hash(ladder, sizes, mixed_conventions)
    k = None if src is None else cache.key("backtest-answer", src, tuple(tasks), holdout, level)
    hit = None if fresh else _recall(k, lambda h: isinstance(h, BacktestAnswer), lambda h: h.said)
    if hit is not None:
        return hit
    from . import io
    from .chain import ladder_notes
    from .trust import ALL_DESIGNS, backtest_summary, backtest_table

    lad, said = _read(src, ladder, sizes, mixed_conventions)
    bt = backtest_table(lad, tasks, ALL_DESIGNS, holdout=holdout, level=level, progress=progress)
    held = "; ".join(f"by {s}: {', '.join(g['run'].unique())}" for s, g in bt.groupby("split", sort=False))
    if len({frozenset(g["run"]) for _, g in bt.groupby(["split", "task"])}) > len(bt["split"].unique()):
        held += " (each task: the largest runs scored on it)"
    result = {"summary": io.records(backtest_summary(bt)), "runs": io.records(bt), "notes": ladder_notes(lad, tasks)}
    answer = BacktestAnswer(result, held, ALL_DESIGNS, tuple(said))
    if k is not None:
        cache.store(k, answer)
    return BacktestAnswer(result, held, ALL_DESIGNS, tuple(said), bt)
