"""What a prediction needs for any target, and nothing else, evaluated with numpy alone.

The automatic choice (:mod:`taskladder.trust`) spends its time on backtests and bootstrap
refits that depend on the ladder only.  What it hands on to a target is small: per task
and pipeline the fitted laws, the bootstrap parameter draws, the checkpoint noise and the
backtest error (:class:`PipelineState`), and where the ladder's compute is centred
(:class:`TaskState`).  A fixed pipeline hands on its two laws (:class:`ChainState`).
Evaluating either for a target takes milliseconds and needs neither pandas nor scipy, so
:mod:`taskladder.serve`, which keys them by the bytes of the ladder's files and keeps them
in the cache, answers a repeated ``taskladder predict`` without importing either
(docs/speed.md).  ``trust.auto_predict`` and ``chain.predict_targets`` evaluate the same
states with the same code, so the paths cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import TaskladderError
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


def flops(n, d, compute: str = "6nd"):
    """Training compute of (N, D): 6 N D, or OLMo's FLOPs per token x D (``compute="olmo"``)."""
    n, d = np.asarray(n, float), np.asarray(d, float)
    if compute == "6nd":
        return 6.0 * n * d
    from .ladder import known_flops_per_token

    per_token = []
    for v in np.atleast_1d(n).ravel():
        f = known_flops_per_token(int(v))
        if f is None:
            raise TaskladderError(f"OLMo's FLOPs per token are known only for the paper's sizes, not N={int(v):,}; "
                                  "use compute='6nd'")
        per_token.append(f)
    return np.asarray(per_token, float).reshape(np.shape(n)) * d


@dataclass
class ChainState:
    """One fixed pipeline of one task, fitted: its laws without the data they were fitted on,
    enough to predict any target with numpy (``predict --paper``, ``--design``)."""

    task: str
    step1: object
    """Step 1 (a PowerLaw or FlopsLaw), or the single-step law from (N, D) to accuracy."""
    step2: object | None
    """Step 2 (a Sigmoid or LogSigmoid); None for the single-step design."""
    feature: tuple[str, str] | None = None
    """(task, metric) of the intermediate feature, whose actual a target may carry."""
    compute: str | None = None
    """How step 1 counts compute ("6nd" or "olmo") when it is a FLOPs law, else None."""
    flags: list[str] = field(default_factory=list)
    """Problems of the fits, prefixed by their step."""
    config: dict = field(default_factory=dict)
    """The recipe it was fitted with, as JSON (a :class:`chain.ChainConfig`'s fields)."""

    @classmethod
    def of(cls, pred) -> ChainState:
        """The state of a fitted :class:`chain.TaskPredictor`."""
        from .chain import feature_key

        cfg = pred.config
        return cls(pred.task, pred.step1_, pred.step2_, feature_key(pred.task, cfg.feature),
                   cfg.compute if cfg.step1 == "flops" else None, list(pred.flags_), dict(cfg.__dict__))

    def predict_feature(self, n, d):
        """Step 1 alone: the intermediate feature at (N, D)."""
        if self.compute is None:
            return self.step1.predict(n, d)
        return self.step1.predict(flops(n, d, self.compute))

    def predict(self, n, d):
        if self.step2 is None:
            return self.step1.predict(n, d)
        return self.step2.predict(self.predict_feature(n, d))

    def formula(self) -> str:
        return self.step1.formula() if self.step2 is None else f"{self.step1.formula()};  {self.step2.formula()}"

    def rows(self, targets) -> list[dict]:
        """One row per target: the prediction, the actual when the target carries it, errors and flags."""
        rows = []
        for t in targets:
            actual = t.actual(self.task, ACC)
            if self.step2 is None:
                acc = float(self.step1.predict(t.n, t.d))
                rows.append({"task": self.task, "target": t.name, "predicted": acc, "actual": actual,
                             "fit_error": self.step1.fit_error_, "flags": "; ".join(self.step1.flags_),
                             "abs_error": None if actual is None else abs(acc - actual) * 100.0,
                             "rel_error": None if actual is None else abs(acc - actual) / actual})
                continue
            feat = float(self.predict_feature(t.n, t.d))
            acc = float(self.step2.predict(feat))
            actual_feat = t.actual(*self.feature)
            rows.append({
                "task": self.task, "target": t.name, "n": t.n, "d": t.d,
                "predicted_feature": feat, "actual_feature": actual_feat,
                "predicted": acc, "actual": actual,
                "abs_error": None if actual is None else abs(acc - actual) * 100.0,
                "rel_error": None if actual is None else abs(acc - actual) / actual,
                "feature_rel_error": None if actual_feat is None else abs(feat - actual_feat) / actual_feat,
                "step1_fit_error": self.step1.fit_error_, "step2_fit_error": self.step2.fit_error_,
                "flags": "; ".join(self.flags),
            })
        return rows

    def fit_json(self) -> dict:
        """The fitted laws as JSON: formula, and per step its parameters, fit error and flags."""
        return {"formula": self.formula(),
                "step1": {**self.step1.params_, "fit_error": self.step1.fit_error_, "flags": self.step1.flags_},
                "step2": {**self.step2.params_, "fit_error": self.step2.fit_error_, "flags": self.step2.flags_}}


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
