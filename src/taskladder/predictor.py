"""What the automatic prediction needs for any target, and nothing else, evaluated with numpy alone.

The automatic choice (:mod:`taskladder.trust`) spends its time on backtests and bootstrap
refits that depend on the ladder only.  What it hands on to a target is small: per task
and pipeline the fitted laws, the bootstrap parameter draws, the checkpoint noise and the
backtest error (:class:`PipelineState`), and where the ladder's compute is centred
(:class:`TaskState`).  Evaluating that state for a target takes milliseconds and needs
neither pandas nor scipy, so :func:`auto_prediction`, which keys the state by the bytes
of the ladder's files and keeps it in the cache, answers a repeated ``taskladder predict``
without importing either (docs/speed.md).  ``trust.auto_predict`` evaluates the same
state with the same code, so the two paths cannot disagree.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputWarning, TaskladderError
from .tasks import ACC

#: A target's "actual" accuracy is the mean of its last 5 checkpoints (paper section 4), so
#: it carries the checkpoint noise over 5 of them.
FINAL_WINDOW = 5

#: How the automatic interval is built and calibrated, as every output states it.
INTERVAL_METHOD = ("mixture of the pipelines' Student t's on the logit scale: fit SD from bootstraps (step-1 "
                   "residuals, step 2 over runs; calibrated by simulation) and backtest error scaled by the "
                   "extrapolation distance; "
                   "coverage on the ladder: taskladder backtest --calibration")

#: Draws from the mixture that locate an interval's quantiles: the 90% bounds of the bundled
#: targets move by 0.08 points (median SD over seeds; at most 0.16) from draw to draw (docs/trust.md).
MIXTURE_DRAWS = 20_000

_EPS = 1e-4  # keeps a prediction at (or beyond) 0 or 1 finite on the logit scale


@dataclass
class PipelineState:
    """One pipeline of one task, fitted: enough to predict it and its SD at any (N, D)."""

    design: str
    law: object
    """The law from (N, D) to accuracy (one-step pipelines), or step 1 of a chain."""
    step2: object | None
    """Step 2 of a chain (feature -> accuracy), None for a one-step pipeline."""
    on_compute: bool
    """Step 1 takes C = 6 N D (the flops design) rather than (N, D)."""
    boot1: np.ndarray | None
    """Step-1 parameters refitted to residual-bootstrap data sets, (B, k) (chains only)."""
    boot2: np.ndarray | None
    """Step-2 parameters refitted to run-bootstrap resamplings, (B, k) (chains only)."""
    ckpt_sd: float
    """Checkpoint-to-checkpoint SD of the accuracy (median over the ladder's runs)."""
    dof: int
    """Residual degrees of freedom of the law fitted on final checkpoints (runs - parameters)."""
    rmse: float = float("nan")
    """Backtest root mean squared error of its accuracy (fraction)."""
    log_extrapolation: float = float("nan")
    """Mean log-extrapolation in compute of the backtest's held-out runs."""
    backtest_weight: float = float("nan")
    """Its weight from the backtest alone (before the target's own SD)."""

    def _x(self, n, d) -> tuple:
        return (6.0 * n * d,) if self.on_compute else (n, d)

    def feature(self, n, d) -> float:
        return float(self.law.predict(*self._x(n, d)))

    def predict(self, n, d) -> float:
        if self.step2 is None:
            return float(self.law.predict(n, d))
        return float(self.step2.predict(self.feature(n, d)))

    def sd(self, n, d) -> float:
        """SD of the prediction at (n, d): checkpoint noise of a target's actual (mean of
        :data:`FINAL_WINDOW` checkpoints), and for a chain the spread of step 1's bootstrap
        carried through step 2 and of step 2's run bootstrap at the predicted feature.  The
        one-step pipelines get checkpoint noise only: their backtest error stands for the rest."""
        var = self.ckpt_sd ** 2 / FINAL_WINDOW
        if self.step2 is not None:
            P = self.boot1
            g = self.law.model_fn(*[np.full(len(P), float(a)) for a in self._x(n, d)])
            with np.errstate(over="ignore", invalid="ignore"):
                feats = g(P.T)[0]
            feats = feats[np.isfinite(feats)]
            var += float(np.var(self.step2.predict(feats), ddof=1)) if len(feats) > 1 else 0.0
            x0 = np.array([self.feature(n, d)])
            P2 = self.boot2
            with np.errstate(over="ignore", invalid="ignore"):
                acc2 = self.step2._f(x0[None, :], *[P2[:, j:j + 1] for j in range(P2.shape[1])])[:, 0]
            acc2 = acc2[np.isfinite(acc2)]
            var += float(np.var(acc2, ddof=1)) if len(acc2) > 1 else 0.0
        return float(np.sqrt(var))


@dataclass
class TaskState:
    """Every pipeline of one task, with their backtest errors: the automatic choice, fitted."""

    task: str
    pipelines: dict[str, PipelineState]
    """Design -> its state, in the backtest's order (the order the mixture is drawn in)."""
    log_center: float
    """The ladder's mean log compute, from which a target's extrapolation is measured."""

    def predict(self, targets, level: float, B: int, seed: int) -> list[dict]:
        """One row per target: weighted centre, interval of the mixture, weights, actual if known.

        Pipeline d gets SD_d = hypot(fit SD, backtest RMSE x s), s = the target's
        log-extrapolation over the backtest's (at least 1): the error of a wrong functional
        form grows with the distance extrapolated.  Weights are 1 / SD_d^2; the interval is
        the central ``level`` mass of ``B`` draws from the mixture of Student t's, each on the
        logit scale so it stays inside (0, 1).
        """
        rng = np.random.default_rng(seed)
        rows = []
        for t in targets:
            ext = np.log(float(t.n) * float(t.d)) - self.log_center
            preds, sds = {}, {}
            for d, p in self.pipelines.items():
                preds[d] = p.predict(t.n, t.d)
                scale = max(ext / p.log_extrapolation, 1.0)
                sds[d] = float(np.hypot(p.sd(t.n, t.d), p.rmse * scale))
            # a pipeline that cannot predict here (its fit or backtest failed: NaN) gets no weight
            for d in [d for d in preds if not (np.isfinite(preds[d]) and np.isfinite(sds[d]))]:
                del preds[d], sds[d]
            if not preds:
                raise TaskladderError(f"task {self.task!r}: no pipeline gives a finite prediction for {t.name}")
            inv = {d: 1.0 / max(v, 1e-4) ** 2 for d, v in sds.items()}
            tw = {d: v / sum(inv.values()) for d, v in inv.items()}
            draws = np.concatenate([expit(logit(preds[d]) + logit_sd(preds[d], sds[d])
                                          * rng.standard_t(self.pipelines[d].dof, int(round(tw[d] * B))))
                                    for d in preds])
            center = float(sum(tw[d] * p for d, p in preds.items()))
            lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
            actual = t.actual(self.task, ACC) if hasattr(t, "actual") else None
            rows.append({"task": self.task, "target": t.name, "predicted": center, "lower": float(lo),
                         "upper": float(hi), "level": level, "interval": INTERVAL_METHOD, "actual": actual,
                         "abs_error": None if actual is None else abs(center - actual) * 100,
                         "covered": None if actual is None else bool(lo <= actual <= hi),
                         "pipeline": "weighted: " + ", ".join(
                             f"{d} {w_:.2f}" for d, w_ in sorted(tw.items(), key=lambda kv: -kv[1]) if w_ >= 0.05),
                         "top_pipeline": max(tw, key=tw.get), "weights": tw, "design_predictions": preds,
                         "design_sd": sds})
        return rows


def predict_rows(states: dict[str, TaskState], tasks: Sequence[str], targets, level: float,
                 B: int = MIXTURE_DRAWS, seed: int = 0) -> list[dict]:
    """Every task's rows for every target (:meth:`TaskState.predict`).  Each task's random
    stream depends on its name only, so its interval does not change with the other tasks."""
    return [r for t in tasks for r in states[t].predict(targets, level, B, task_seed(seed, t))]


def applied_weights(rows: list[dict], states: dict[str, TaskState]) -> list[dict]:
    """Per task, target and pipeline: the weight the prediction applied, the pipeline's
    prediction and SD, and the backtest RMSE and weight it started from."""
    out = []
    for r in rows:
        pipes = states[r["task"]].pipelines
        for d, w in r["weights"].items():
            out.append({"task": r["task"], "target": r["target"], "design": d, "weight": w,
                        "predicted": r["design_predictions"][d], "sd": r["design_sd"][d],
                        "backtest_rmse": float(pipes[d].rmse), "backtest_weight": float(pipes[d].backtest_weight)})
    return out


def task_seed(seed: int, task: str) -> int:
    """A task's seed: ``seed`` and a stable hash of its name (not its position in a list)."""
    import zlib

    return (seed * 1_000_003 + zlib.crc32(task.encode())) % 2**32


def logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return float(np.log(p / (1 - p)))


def logit_sd(p: float, sd: float) -> float:
    """The SD on the logit scale whose +-1 band around logit(p) spans 2 sd in probability.

    For a small sd this is the delta method's sd / (p (1 - p)); near 0 or 1, where the
    delta method explodes (a pipeline predicting 0.9999 with an SD of 5 points), the
    band keeps its width in probability and stays inside (0, 1).
    """
    mu, half = logit(p), min(sd, 0.4995)
    lo, hi = 0.0, 60.0
    for _ in range(60):  # bisection: the band's width grows with s
        s = 0.5 * (lo + hi)
        if expit(np.array(mu + s)) - expit(np.array(mu - s)) < 2 * half:
            lo = s
        else:
            hi = s
    return 0.5 * (lo + hi)


def expit(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + e^-x) without overflow


# ---------------------------------------------------------------------------------------
# The ladder's extent, for the notes and checks every prediction carries


@dataclass(frozen=True)
class LadderSpan:
    """What a prediction's notes need of the ladder: its smallest rung and its metric convention."""

    n_min: float
    """Smallest N of any run."""
    d_min: float
    """Smallest final D of any run."""
    convention: str | None = None
    """The metric convention the ladder was scored under (docs/ingest.md), if known."""


def range_note(span: LadderSpan, target) -> str | None:
    """A warning when a target lies below the ladder (smaller N or D than every rung), else None.

    The laws are fitted to extrapolate upwards; below the ladder they extrapolate
    downwards, where nothing constrains them.
    """
    if target.n < span.n_min or target.d < span.d_min:
        return (f"{target.name} lies below the ladder (smallest rung N={span.n_min:.3g}, D={span.d_min:.3g}): "
                "the laws are extrapolated downwards, where nothing constrains them")
    return None


def convention_notes(convention: str | None, targets) -> list[str]:
    """A warning per target whose actual values were measured under another metric
    convention than the ladder's (its "actual" and the prediction are on different scales)."""
    notes = []
    for t in targets:
        res = getattr(t, "results", None)
        tc = None if res is None else res.attrs.get("convention")
        if convention and tc and convention != tc:
            notes.append(f"the ladder was scored under the {convention!r} metric convention and {t.name}'s "
                         f"actuals under {tc!r}: their errors mix two scales (docs/ingest.md)")
    return notes


def check_accuracies(rows: Sequence[dict], span: LadderSpan, targets) -> None:
    """Refuse predicted accuracies outside [0, 1], naming the task and target and why."""
    for r in rows:
        if not 0.0 <= r["predicted"] <= 1.0:
            t = next((t for t in targets if t.name == r["target"]), None)
            why = (range_note(span, t) if t is not None else None) or "the target lies too far outside the ladder"
            raise TaskladderError(f"task {r['task']!r}, target {r['target']}: predicted accuracy "
                                  f"{r['predicted']:.4g} is outside [0, 1]; {why}")


# ---------------------------------------------------------------------------------------
# The automatic prediction from files, through the cache


@dataclass
class AutoPrediction:
    """The automatic prediction of some tasks for some targets, as rows a program reads."""

    rows: list[dict]
    """One per task and target (:meth:`TaskState.predict`)."""
    weights: list[dict]
    """The weights applied (:func:`applied_weights`)."""
    notes: list[str] = field(default_factory=list)
    """Warnings about the targets (below the ladder, another metric convention)."""

    @property
    def predictions(self):
        """The rows as a pandas DataFrame (imported only when asked for)."""
        import pandas as pd

        return pd.DataFrame(self.rows)


#: The files of a ladder folder whose bytes key its fitted state: every kind the readers take
#: (tables, and the JSON/JSON-lines of lm-eval, OLMES and OLMo-core), never a checkpoint's weights.
_RESULT_SUFFIXES = (".csv", ".parquet", ".json", ".jsonl")


def _source_hash(ladder: Sequence[Path] | None, sizes: Path | None, mixed_conventions: bool) -> str | None:
    """SHA-256 of the bytes of every file the ladder is read from (the bundled one by default;
    in a folder, every result file below it, :data:`_RESULT_SUFFIXES`), the size table's and
    the reading options; None when a file cannot be read (the full reader then reports it)."""
    h = hashlib.sha256(repr(mixed_conventions).encode())
    if ladder:
        files = []
        for p in map(Path, ladder):
            files += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in _RESULT_SUFFIXES) \
                if p.is_dir() else [p]
    else:
        from importlib import resources

        base = resources.files("taskladder") / "data"
        files = [base / "olmo2_ladder.parquet", base / "olmo2_ladder.json"]
    if sizes is not None:
        files.append(Path(sizes))
    try:
        for f in files:
            h.update(str(f).encode() if ladder else f.name.encode())
            h.update(b"\0")
            h.update(f.read_bytes())
    except OSError:
        return None
    return h.hexdigest()


def _valid(entry) -> bool:
    return (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], LadderSpan)
            and isinstance(entry[1], TaskState))


def auto_prediction(targets, tasks: Sequence[str], ladder: Sequence[Path] | None = None, sizes: Path | None = None,
                    mixed_conventions: bool = False, level: float = 0.9, seed: int = 0, B: int = MIXTURE_DRAWS,
                    progress: Callable[[], None] | None = None) -> AutoPrediction:
    """The automatic prediction of ``tasks`` for ``targets`` from ladder files (the bundled
    ladder by default), reusing the fitted state of each task when these files were seen.

    The state is cached by the bytes of the files (:func:`_source_hash`), so a repeated
    prediction neither reads the tables nor imports pandas or scipy; on a miss the files are
    read and the fits made (:func:`taskladder.trust.fit_states`, itself cached by the
    table's content).  ``progress`` is called once per task.
    """
    from . import cache

    src = _source_hash(ladder, sizes, mixed_conventions)
    # one entry per task: its fitted state, the ladder's span (for the notes) and what reading
    # the files warned about (said again on every prediction, as a fresh read would)
    keys = {t: cache.key("auto-state", src, t) for t in tasks} if src is not None else {}
    hits = {t: cache.load(k) for t, k in keys.items()}
    if all(_valid(hits.get(t)) for t in tasks):
        span, _, said = hits[tasks[0]]
        states = {t: hits[t][1] for t in tasks}
        for message in said:
            warnings.warn(message, InputWarning, stacklevel=2)
        if progress is not None:
            for _ in tasks:
                progress()
    else:
        from .chain import Ladder, ladder_span
        from .results import load_sizes, read_results
        from .trust import fit_states

        if ladder:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", InputWarning)
                results = read_results(list(ladder), sizes=load_sizes(sizes) if sizes else None,
                                       mixed_conventions=mixed_conventions)
            said = tuple(str(w.message) for w in caught if issubclass(w.category, InputWarning))
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        else:
            from .datasets import olmo2_ladder

            results, said = olmo2_ladder().ladder, ()
        lad = Ladder(results)
        span = ladder_span(lad)
        states = fit_states(lad, list(tasks), progress=progress)
        for t, k in keys.items():
            cache.store(k, (span, states[t], said))
    rows = predict_rows(states, tasks, targets, level, B, seed)
    check_accuracies(rows, span, targets)
    notes = [x for x in (range_note(span, t) for t in targets) if x] + convention_notes(span.convention, targets)
    return AutoPrediction(rows, applied_weights(rows, states), notes)
