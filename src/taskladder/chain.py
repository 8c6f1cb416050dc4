"""The two-step chain of Bhagia et al. (2024): (N, D) -> task loss -> accuracy.

:class:`Ladder` indexes a tidy results table once, so every task's fit reads its
series without rescanning the table.  :class:`TaskPredictor` fits step 1 on the
final checkpoint of each run and step 2 on all checkpoints, then chains them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .errors import TaskladderError, did_you_mean, listed
from . import predictor
from .ladder import chinchilla_multiple
from .laws import FlopsLaw, LogSigmoid, PowerLaw, Sigmoid
from .predictor import ChainState, LadderSpan, flops
from .results import COLUMNS, parse_run_name
from .tasks import ACC, BPB, C4, LM_LOSS, REGISTRY, TASKCE, chance

FEATURES = ("bpb", "taskce", "c4")


@dataclass(frozen=True)
class ChainConfig:
    """How to build and fit the two steps.  Defaults are the paper's main recipe."""

    feature: Literal["bpb", "taskce", "c4"] = "bpb"
    """Intermediate feature: task bits-per-byte (section 3), TaskCE (6.2) or C4 loss (6.3)."""
    step1: Literal["nd", "flops"] = "nd"
    """Step-1 law: L(N, D) (eq. 1) or L(C) with C = 6 N D (section 6.1)."""
    step2: Literal["sigmoid", "log_sigmoid"] = "sigmoid"
    """Step-2 law: sigmoid (eq. 2) or log-sigmoid (eq. 8, used with TaskCE)."""
    final_window: int = 5
    """Step 1 averages the feature over each run's last this-many checkpoints (3.1)."""
    smooth_window: int = 5
    """Step 2 smooths each run with a trailing moving average of this width (3.2)."""
    skip_frac: float = 0.1
    """Step 2 drops this fraction of each run's first checkpoints (3.2)."""
    anchor: bool = True
    """Step 2 adds the point (L=0, Acc=1) (3.2)."""
    n_starts: int = 2
    """Extra starts each fit polishes beside the paper's start (0: the paper's single start)."""
    compute: Literal["6nd", "olmo"] = "6nd"
    """Compute of the FLOPs law: 6 N D, or OLMo's logged FLOPs per token x D (the paper's
    section 6.1 runs; known only for the paper's sizes, :func:`taskladder.ladder.known_flops_per_token`)."""

    def __post_init__(self):
        if self.feature not in FEATURES:
            raise TaskladderError(f"unknown feature {self.feature!r}; choose one of {', '.join(FEATURES)}")
        if self.compute not in ("6nd", "olmo"):
            raise TaskladderError(f"unknown compute {self.compute!r}; choose 6nd or olmo")
        if self.step1 not in ("nd", "flops"):
            raise TaskladderError(f"unknown step-1 law {self.step1!r}; choose nd or flops")
        if self.step2 not in ("sigmoid", "log_sigmoid"):
            raise TaskladderError(f"unknown step-2 law {self.step2!r}; choose sigmoid or log_sigmoid")
        if self.final_window < 1 or self.smooth_window < 1:
            raise TaskladderError("final_window and smooth_window must be at least 1")
        if self.n_starts < 0:
            raise TaskladderError(f"n_starts must be >= 0, got {self.n_starts}")
        if not 0.0 <= self.skip_frac < 1.0:
            raise TaskladderError(f"skip_frac must be in [0, 1), got {self.skip_frac}")


#: The paper's main design (sections 3.1-3.3).
PAPER = ChainConfig()


def feature_key(task: str, feature: str) -> tuple[str, str]:
    """(task, metric) of the results table holding a task's intermediate feature."""
    if feature == "bpb":
        return task, BPB
    if feature == "taskce":
        return task, TASKCE
    if feature == "c4":
        return C4, LM_LOSS
    raise TaskladderError(f"unknown feature {feature!r}")


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points; the first points average what exists so far."""
    c = np.cumsum(x, dtype=float)
    out = c.copy()
    out[window:] = c[window:] - c[:-window]
    denom = np.minimum(np.arange(1, len(x) + 1), window)
    return out / denom


@dataclass(frozen=True)
class Series:
    """One run's values of one (task, metric), in step order."""

    run: str
    size: str
    n: int
    d: np.ndarray
    step: np.ndarray
    value: np.ndarray


class Ladder:
    """A tidy results table indexed by (task, metric) for fast, repeated fitting."""

    def without(self, runs) -> Ladder:
        """This ladder without ``runs``, indexed once: a backtest refits every pipeline on
        the same few splits."""
        key = frozenset(runs)
        if key not in self._subsets:
            self._subsets[key] = Ladder(self.results[~self.results["run"].isin(key)])
        return self._subsets[key]

    @property
    def content_hash(self) -> str:
        """The results table's content hash (:func:`cache.table_hash`), computed once."""
        if self._hash is None:
            from .cache import table_hash

            self._hash = table_hash(self.results)
        return self._hash

    def __init__(self, results: pd.DataFrame):
        _check_table(results)
        self.results = results
        self._hash = None
        self._runs: pd.DataFrame | None = None
        self._subsets: dict[frozenset, Ladder] = {}
        # Sort once by (task, metric, run, step) on integer codes; each (task, metric)
        # is then a contiguous slice, turned into per-run Series only when asked for.
        tcode, self._tnames = pd.factorize(results["task"])
        mcode, self._mnames = pd.factorize(results["metric"])
        rcode, self._rnames = pd.factorize(results["run"], sort=True)
        # run and size as integer codes: as Python strings, one per row, they held ~8 MB per
        # ladder (and per backtest sub-ladder) and took most of the indexing time
        scode, self._snames = pd.factorize(results["size"], use_na_sentinel=False)
        order = np.lexsort((results["step"].to_numpy(), rcode, mcode, tcode))
        self._cols = {"run": rcode[order], "size": scode[order],
                      **{c: results[c].to_numpy()[order] for c in ("n", "d", "step", "value")}}
        key = (tcode.astype(np.int64) * len(self._mnames) + mcode)[order]
        cuts = np.flatnonzero(np.diff(key)) + 1
        starts, ends = np.r_[0, cuts], np.r_[cuts, len(key)]
        self._slices = {(self._tnames[key[a] // len(self._mnames)], self._mnames[key[a] % len(self._mnames)]): (a, b)
                        for a, b in zip(starts, ends)}
        self._series: dict[tuple[str, str], list[Series]] = {}

    def has(self, task: str, metric: str) -> bool:
        """Whether the results hold any ``metric`` values for ``task``."""
        return (task, metric) in self._slices

    @property
    def run_table(self) -> pd.DataFrame:
        """:func:`run_table` of the results, computed once (the backtest asks per task and split)."""
        if self._runs is None:
            self._runs = run_table(self.results)
        return self._runs

    def runs_with(self, task: str, metric: str) -> list[str]:
        """The runs holding any ``metric`` values for ``task`` (sorted; none if it has none)."""
        if (task, metric) not in self._slices:
            return []
        a, b = self._slices[(task, metric)]
        return [str(self._rnames[c]) for c in np.unique(self._cols["run"][a:b])]

    def _build(self, a: int, b: int) -> list[Series]:
        c = {k: v[a:b] for k, v in self._cols.items()}
        run = c["run"]
        cuts = np.flatnonzero(run[1:] != run[:-1]) + 1
        out = []
        for i, j in zip(np.r_[0, cuts], np.r_[cuts, len(run)]):
            out.append(Series(str(self._rnames[run[i]]), str(self._snames[c["size"][i]]), int(c["n"][i]),
                              c["d"][i:j].astype(float),
                              c["step"][i:j], c["value"][i:j].astype(float)))
        return out

    @property
    def tasks(self) -> list[str]:
        return sorted({t for t, m in self._slices if m != LM_LOSS})

    @property
    def runs(self) -> list[str]:
        return sorted(self.results["run"].unique())

    def series(self, task: str, metric: str) -> list[Series]:
        if (task, metric) in self._series:
            return self._series[(task, metric)]
        if (task, metric) in self._slices:
            out = self._series[(task, metric)] = self._build(*self._slices[(task, metric)])
            return out
        have = listed(self.tasks, 12) or "none"  # a ladder of 60 tasks: 'taskladder data' lists them all
        if not any(t == task for t, _ in self._slices):
            raise TaskladderError(f"task {task!r} is not in the ladder{did_you_mean(task, self.tasks)} "
                                  f"(tasks with data: {have})")
        with_metric = listed(sorted({t for t, m in self._slices if m == metric}), 12) or "none"
        raise TaskladderError(f"the ladder has no {metric!r} values for task {task!r} (tasks with {metric!r} "
                              f"values: {with_metric})")

    def chance(self, task: str) -> float:
        """Where the step-2 fits start the task's lower asymptote: the registry's chance
        accuracy, else (a task the registry does not know, e.g. one a reader kept from
        lm-eval) the lowest accuracy the ladder logs for it, which the smallest runs' first
        checkpoints put near chance (each bundled task's lowest is within 0.06 of its
        chance accuracy: ARC-Challenge 0.197 vs 0.25, Social IQa 0.382 vs 0.333)."""
        if task in REGISTRY or (task, ACC) not in self._slices:
            return chance(task)
        a, b = self._slices[(task, ACC)]
        return float(np.clip(self._cols["value"][a:b].min(), 0.0, 1.0))

    def accuracy_noise(self, task: str) -> float:
        """The task's checkpoint-to-checkpoint accuracy SD: each run's SD over its last 10
        checkpoints, median over the runs (0 when no run has 3); a target's "actual" shares it."""
        sds = [np.std(s.value[-10:]) for s in self.series(task, ACC) if len(s.value) >= 3]
        return float(np.median(sds)) if sds else 0.0

    def final_points(self, task: str, metric: str, window: int) -> pd.DataFrame:
        """Step-1 data: each run's last checkpoint, its value averaged over the last ``window``."""
        rows = [(s.run, s.size, s.n, s.d[-1], s.value[-window:].mean()) for s in self.series(task, metric)]
        return pd.DataFrame(rows, columns=["run", "size", "n", "d", "value"])

    def paired_points(self, task: str, x: tuple[str, str], y: tuple[str, str],
                      skip_frac: float, window: int) -> pd.DataFrame:
        """Step-2 data: (feature, accuracy) at every checkpoint of every run.

        Per run: the first ``ceil(skip_frac * len)`` checkpoints are dropped, but never the
        last (a ladder evaluated only at its runs' ends has one checkpoint per run, all final),
        then both series are smoothed with a trailing moving average (paper section 3.2).
        """
        ys = {s.run: s for s in self.series(*y)}
        parts = []
        for sx in self.series(*x):
            sy = ys.get(sx.run)
            if sy is None:
                continue
            common, ix, iy = np.intersect1d(sx.step, sy.step, return_indices=True)
            if len(common) == 0:
                continue
            k = min(int(np.ceil(skip_frac * len(common))), len(common) - 1)
            xv, yv = sx.value[ix][k:], sy.value[iy][k:]
            m = len(xv)
            parts.append(([sx.run] * m, [sx.size] * m, np.full(m, sx.n), sx.d[ix][k:], common[k:],
                          moving_average(xv, window), moving_average(yv, window)))
        if not parts:
            raise TaskladderError(f"task {task!r}: no checkpoints carry both {x[1]} and {y[1]}")
        cols = ("run", "size", "n", "d", "step", "x", "y")
        return pd.DataFrame({c: np.concatenate([p[i] for p in parts]) for i, c in enumerate(cols)})


def _check_table(results: pd.DataFrame) -> None:
    """Refuse, naming the first offending row, a table a ladder cannot be fitted on: a missing
    column, no rows, a non-finite value, or a value out of its metric's range (an accuracy of 1.3)."""
    missing = [c for c in COLUMNS if c not in results.columns]
    if missing:
        raise TaskladderError(f"results table lacks column {missing[0]!r}")
    if results.empty:
        raise TaskladderError("the ladder results are empty")
    v = results["value"].to_numpy(dtype=float)
    if not np.isfinite(v).all():
        r = results.iloc[int(np.flatnonzero(~np.isfinite(v))[0])]
        raise TaskladderError(
            f"non-finite value {r['value']} for run {r['run']!r}, step {r['step']}, {r['task']}/{r['metric']}")
    from .results import out_of_range

    for metric, idx in results.groupby("metric", sort=False).indices.items():
        bad, rule = out_of_range(metric, v[idx])
        if bad.any():
            r = results.iloc[idx[int(np.flatnonzero(bad)[0])]]
            raise TaskladderError(f"run {r['run']!r}, step {r['step']}, {r['task']}/{metric}: value {r['value']:g} "
                                  f"is out of range: {rule}")


def as_ladder(data) -> Ladder:
    return data if isinstance(data, Ladder) else Ladder(data)


class TaskPredictor:
    """Chained prediction of one task's accuracy from (N, D) (paper section 3.3).

    Parameters
    ----------
    task : registry task (or any task present in the results).
    config : the pipeline recipe; :data:`PAPER` by default.
    chance : random-guess accuracy for the step-2 start; :meth:`Ladder.chance` by default.

    Fitted attributes: ``step1_`` (a PowerLaw or FlopsLaw), ``step2_`` (a Sigmoid or
    LogSigmoid), ``step1_data_`` and ``step2_data_`` (the points each was fitted on),
    ``flags_`` (problems of either fit).
    """

    def __init__(self, task: str, config: ChainConfig = PAPER, chance: float | None = None):
        self.task = task
        self.config = config
        self.chance = chance

    def fit(self, ladder) -> TaskPredictor:
        lad = as_ladder(ladder)
        cfg = self.config
        fkey = feature_key(self.task, cfg.feature)
        s1 = lad.final_points(*fkey, window=cfg.final_window)
        n_params = PowerLaw.n_params if cfg.step1 == "nd" else FlopsLaw.n_params
        if len(s1) < n_params:
            raise TaskladderError(
                f"task {self.task!r}: step 1 has {n_params} parameters but the ladder has only {len(s1)} "
                f"run{'s' * (len(s1) != 1)}")
        n, d, v = (s1[c].to_numpy(float) for c in ("n", "d", "value"))

        def fit_step1():
            if cfg.step1 == "nd":
                return PowerLaw(n_starts=cfg.n_starts).fit(n, d, v)
            return FlopsLaw(n_starts=cfg.n_starts).fit(flops(n, d, cfg.compute), v)

        # the same points give the same law: the C4-loss feature is one series for every task
        from .cache import memo

        self.step1_ = self._named("step 1", lambda: memo(
            ("step1", cfg.step1, cfg.n_starts, cfg.compute, n.tobytes(), d.tobytes(), v.tobytes()), fit_step1))
        s2 = lad.paired_points(self.task, fkey, (self.task, ACC), cfg.skip_frac, cfg.smooth_window)
        ch = lad.chance(self.task) if self.chance is None else self.chance
        if cfg.step2 == "sigmoid":
            law = Sigmoid(chance=ch, anchor=(0.0, 1.0) if cfg.anchor else None)
        else:
            law = LogSigmoid()
        law.n_starts = min(cfg.n_starts, 1)  # well-determined on ~1,000 points: one extra start
        self.step2_ = self._named(f"step 2 ({fkey[1]} -> accuracy)", lambda: law.fit(s2["x"], s2["y"]))
        self.step1_data_, self.step2_data_ = s1, s2
        self.flags_ = [f"step 1: {f}" for f in self.step1_.flags_] + [f"step 2: {f}" for f in self.step2_.flags_]
        return self

    def _named(self, step: str, fit):
        """``fit()``, its error naming the task and the step (a CLI error of several tasks'
        fits said only "LogSigmoid: the fit failed from every starting point")."""
        try:
            return fit()
        except TaskladderError as e:
            if str(e).startswith(f"task {self.task!r}"):
                raise
            raise TaskladderError(f"task {self.task!r}: {step}: {e}") from None

    def predict_feature(self, N, D):
        """Step 1 alone: the intermediate feature (task loss) at (N, D)."""
        N, D = _counts(N, "N"), _counts(D, "D")
        if self.config.step1 == "nd":
            return self.step1_.predict(N, D)
        return self.step1_.predict(flops(N, D, self.config.compute))

    def predict(self, N, D):
        """The chained prediction: accuracy at (N, D)."""
        return self.step2_.predict(self.predict_feature(N, D))

    def formula(self) -> str:
        return f"{self.step1_.formula()};  {self.step2_.formula()}"


def fit_predictor(ladder, task: str, config: ChainConfig = PAPER) -> TaskPredictor:
    """``TaskPredictor(task, config).fit(ladder)``, kept in the on-disk cache: a fit depends on the
    ladder's content, the task and the config only (a cached fit keeps its flags_ but issues no
    FitWarning again).  Every command that fits the same chain shares it."""
    from . import cache

    lad = as_ladder(ladder)
    return cache.cached(chain_key(lad, task, config), lambda: TaskPredictor(task, config).fit(lad))


def chain_key(lad: Ladder, task: str, config: ChainConfig) -> str:
    """The cache key of :func:`fit_predictor`'s fit."""
    from . import cache

    return cache.key("chain", lad.content_hash, task, config)


def _counts(v, what: str) -> np.ndarray:
    """N or D given to a fitted chain: positive, finite numbers (a scalar or an array), else one
    clear error rather than a NaN or inf prediction (a power law at N <= 0)."""
    try:
        a = np.asarray(v, float)
    except (TypeError, ValueError):
        raise TaskladderError(f"{what} must be numbers (e.g. 7e9), got {v!r}") from None
    ok = np.isfinite(a) & (a > 0)
    if not ok.all():
        raise TaskladderError(f"{what} must be positive and finite, got {a[~ok].flat[0]:g}")
    return a


def predict_targets(ladder, targets, tasks, config: ChainConfig = PAPER, progress=None) -> tuple[pd.DataFrame, dict]:
    """Fit every task once and predict every target.

    ``targets`` is an iterable of :class:`~taskladder.datasets.Target`.  Returns the
    table of predictions (one row per task x target) and the fitted predictors.
    """
    lad = as_ladder(ladder)
    targets = list(targets)
    if not targets:
        raise TaskladderError("no target given: name a target or give --n and --tokens")
    tasks = list(tasks)
    fits = dict(zip(tasks, fit_predictors(lad, [(task, config) for task in tasks], progress=progress)))
    rows = [r for task in tasks for r in ChainState.of(fits[task]).rows(targets)]  # as a cached prediction's
    return pd.DataFrame(rows), fits


def fit_predictors(ladder, jobs, n_jobs: int | None = None, progress=None) -> list[TaskPredictor]:
    """:func:`fit_predictor` for every ``(task, config)`` of ``jobs``, over the cores, in the order
    of ``jobs``, warning and failing as one loop here would (:func:`parallel.fits_over_cores`)."""
    from .parallel import fits_over_cores

    lad = as_ladder(ladder)
    jobs = list(jobs)
    return fits_over_cores(fit_predictor, [(lad, task, cfg) for task, cfg in jobs], n_jobs, progress,
                           keys=[chain_key(lad, task, cfg) for task, cfg in jobs])


def run_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per run (the index): its N, its final tokens D and its compute C = N D."""
    runs = results.groupby("run").agg(n=("n", "first"), d=("d", "max"))
    runs["c"] = runs["n"].astype(float) * runs["d"].astype(float)
    return runs


def ladder_span(ladder) -> LadderSpan:
    """The ladder's smallest rung, its tokens-per-parameter range, metric convention and each
    task's range of final accuracies (:class:`predictor.LadderSpan`)."""
    lad = as_ladder(ladder)
    runs = lad.run_table
    tpp = runs["d"].astype(float) / runs["n"].astype(float)
    compute = 6.0 * runs["n"].astype(float) * runs["d"].astype(float)
    acc, gaps, early = [], [], []
    order = runs.sort_values(["n", "d"]).index  # runs named smallest first
    for task in lad.tasks:
        if lad.has(task, ACC):
            fin = lad.final_points(task, ACC, predictor.FINAL_WINDOW)["value"]
            acc.append((task, float(fin.min()), float(fin.max()), lad.accuracy_noise(task)))
        have = {m: set(lad.runs_with(task, m)) for m in (BPB, ACC, TASKCE) if lad.has(task, m)}
        absent = [r for r in order if not any(r in h for h in have.values())]
        partial = [(m, tuple(r for r in order if r not in h and r not in absent)) for m, h in have.items()]
        partial = tuple((m, rs) for m, rs in partial if rs)
        if absent or partial:
            gaps.append((task, tuple(absent), partial))
        cut = _ends_early(lad, task, [m for m in (BPB, ACC, TASKCE) if lad.has(task, m)], order)
        if cut:
            early.append((task, cut))
    short = []
    for r in order:
        mult = parse_run_name(r)[1]
        got = chinchilla_multiple(float(runs.loc[r, "n"]), float(runs.loc[r, "d"]))
        if mult and got < predictor.SHORT_OF_NAME * mult:
            short.append((r, got, mult))
    c4 = set(lad.runs_with(C4, LM_LOSS))
    c4_gaps = tuple(r for r in order if r not in c4) if c4 else ()
    c4_early = _ends_early(lad, C4, [LM_LOSS] if c4 else [], order)
    return LadderSpan(float(runs["n"].min()), float(runs["d"].min()), lad.results.attrs.get("convention"),
                      float(tpp.min()), float(tpp.max()), tuple(acc), tuple(map(str, runs.index)), tuple(short),
                      c4_gaps, tuple(gaps), tuple(early), tuple((r, f) for r, f, _ in c4_early),
                      _duplicate_runs(lad), bool(lad.results.groupby("run")["step"].nunique().max() < 3),
                      (float(compute.min()), float(compute.max())))


def _duplicate_runs(lad: Ladder) -> tuple:
    """Groups of runs (names sorted) holding identical results: every (step, task, metric,
    value) the same, which no two trained runs give (seeds differ).  One run read twice, from
    its own file and a W&B export of the whole ladder, say, under two names.  Compared by an
    order-free sum of the rows' 64-bit hashes (wrapping) and the row count."""
    res = lad.results
    h = pd.util.hash_pandas_object(res[["step", "task", "metric", "value"]], index=False).to_numpy()
    codes, names = pd.factorize(res["run"])
    total = np.zeros(len(names), dtype=np.uint64)
    np.add.at(total, codes, h)
    groups: dict[tuple[int, int], list[str]] = {}
    for name, t, k in zip(names, total, np.bincount(codes, minlength=len(names))):
        groups.setdefault((int(t), int(k)), []).append(str(name))
    return tuple(tuple(sorted(g)) for g in groups.values() if len(g) > 1)


def ladder_notes(ladder, tasks, span: LadderSpan | None = None) -> list[str]:
    """The warnings of :func:`predictor.prediction_notes` that concern the ladder alone (no
    target): what a backtest says beside its scores, whose held-out "actuals" a run still
    training, or a task that ends early, make as wrong as the fits; and the pipelines left out
    for lack of data (:func:`predictor.left_out_notes`), which a backtest shows as blanks.
    ``span``: the ladder's :func:`ladder_span`, where the caller has it already."""
    from .trust import missing_features  # trust builds on this module

    lad = as_ladder(ladder)
    return (predictor.prediction_notes(ladder_span(lad) if span is None else span, [], tasks)
            + predictor.left_out_notes(missing_features(lad, tasks)))


def _ends_early(lad: Ladder, task: str, metrics: list[str], order) -> tuple:
    """``((run, share, metrics), ...)``: the runs whose ``task`` results (any of ``metrics``) end
    before SHORT_OF_NAME of the run's own final tokens, with the share of them the earliest
    metric reaches (step 1 takes that checkpoint, not annealed, as the run's final one) and the
    metrics that end early (empty: all the run has)."""
    final = lad.run_table["d"].astype(float)
    ends: dict[str, dict[str, float]] = {}
    for m in metrics:
        for sr in lad.series(task, m):
            if len(sr.d) and final[sr.run] > 0:
                ends.setdefault(sr.run, {})[m] = float(sr.d[-1]) / float(final[sr.run])
    out = []
    for r in order:
        short = {m: f for m, f in ends.get(r, {}).items() if f < predictor.SHORT_OF_NAME}
        if short:  # the metrics named only where some of the run's others reach its end
            out.append((r, min(short.values()), () if len(short) == len(ends[r]) else tuple(short)))
    return tuple(out)
