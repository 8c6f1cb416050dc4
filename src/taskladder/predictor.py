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
from functools import lru_cache

import numpy as np

from .errors import TaskladderError, listed
from .tasks import ACC

#: A target's "actual" accuracy is the mean of its last 5 checkpoints (paper section 4), so
#: it carries the checkpoint noise over 5 of them.
FINAL_WINDOW = 5

#: How the automatic interval is built and calibrated, as every output states it.
INTERVAL_METHOD = ("weighted mean of the pipelines +- Student t x SD on the logit scale; SD: the weighted mean's "
                   "bootstrap SD (step-1 residuals, step 2 over runs, the pipelines drawn jointly; calibrated by "
                   "simulation) and its own backtest error grown with the extrapolation distance; coverage "
                   "on the ladder: taskladder backtest --calibration")

_EPS = 1e-4  # keeps a prediction at (or beyond) 0 or 1 finite on the logit scale


@dataclass(frozen=True)
class ModelError:
    """The weighted prediction's model error at a distance x extrapolated (log compute beyond
    the ladder's mean): SD(x) = scale * max(x / reference, 1), linear growth, the error of a
    wrong slope in log compute (:func:`trust.model_error` measures it on the backtest)."""

    scale: float
    """Backtest RMSE (fraction) of the weighted prediction, out of sample for its weights."""
    reference: float
    """Mean log-extrapolation of the backtest's held-out runs, where ``scale`` is measured."""
    dof: float
    """Degrees of freedom of the scale's estimate."""
    errors: tuple = ()
    """The errors ``scale`` is the RMS of: ((split, held-out run, error), ...), for the mean over
    tasks (:mod:`aggregate`), whose own backtest error pairs them up by split and run."""

    def sd(self, x: float) -> float:
        return float(self.scale * max(float(x) / self.reference, 1.0))


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
    """``law``'s parameters (in :meth:`laws._HuberLogLaw.coordinates`) refitted to residual-bootstrap
    data sets, (B, k)."""
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

    def predict(self, n, d) -> float:
        return float(self.predict_many(np.array([float(n)]), np.array([float(d)]))[0])

    def predict_many(self, ns: np.ndarray, ds: np.ndarray) -> np.ndarray:
        """:meth:`predict` at many targets at once (arrays of N and D): element by element the
        same arithmetic, so the same values."""
        if self.step2 is None:
            return np.asarray(self.law.predict(ns, ds), float)
        return np.asarray(self.step2.predict(np.asarray(self.law.predict(*self._x(ns, ds)), float)), float)

    def draws(self, n, d) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The accuracy at (n, d) under each residual-bootstrap refit of ``law`` (a chain's carried
        through step 2), and under each step-2 run-bootstrap refit at the fitted feature (None for a
        one-step pipeline); None without refits.  Every pipeline of a task draws the same resampled
        runs (one seed, the same runs in the same order), so draw b of two pipelines comes from
        the same resampled ladder."""
        got = self.draws_many(np.array([float(n)]), np.array([float(d)]))
        return None if got is None else (got[0][0], None if got[1] is None else got[1][0])

    def draws_many(self, ns: np.ndarray, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
        """:meth:`draws` at T targets at once: each part (T, B), row t the draws at target t.  The
        refits' parameters are tiled against the targets' coordinates, one evaluation of the law for
        all of them (a search along a family of targets, :mod:`taskladder.reach`, asks for ~50)."""
        P = self.boot1
        if P is None:
            return None
        T, B = len(ns), len(P)
        g = self.law.coordinates(*[np.repeat(np.asarray(a, float), B) for a in self._x(ns, ds)])[0]
        with np.errstate(over="ignore", invalid="ignore"):
            a1 = np.asarray(g(np.tile(P.T, (1, T)))[0], float)
            if self.step2 is None:
                return a1.reshape(T, B), None
            x0 = np.asarray(self.law.predict(*self._x(ns, ds)), float)  # each target's fitted feature
            P2 = self.boot2
            a1 = np.asarray(self.step2.predict(a1), float).reshape(T, B)
            a2 = self.step2._f(x0[None, :], *[P2[:, j:j + 1] for j in range(P2.shape[1])])  # (B, T)
        return a1, np.ascontiguousarray(np.asarray(a2, float).T)

    def sd(self, n, d) -> float:
        """SD of the prediction at (n, d): checkpoint noise of a target's actual (mean of
        :data:`FINAL_WINDOW` checkpoints), the spread of the residual bootstrap (a chain's step 1
        carried through step 2, or a one-step law), and a chain's step-2 run bootstrap at the
        predicted feature."""
        return _sd(self, self.draws(n, d))


def _sd(p: PipelineState, got: tuple | None) -> float:
    """:meth:`PipelineState.sd` from the pipeline's draws at the target (:meth:`PipelineState.draws`)."""
    return float(_sds(p, _one_row(got), 1)[0])


def _var(a: np.ndarray) -> float:
    return float(np.var(a, ddof=1)) if len(a) > 1 else 0.0


def _row_vars(A: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """:func:`_var` of each row of ``A`` over its finite entries (or those ``keep`` marks): the
    rows kept whole in one pass (numpy reduces each row as it would the row alone), the rest
    one by one."""
    keep = np.isfinite(A) if keep is None else keep
    whole = keep.all(axis=1)
    out = np.zeros(len(A))
    if whole.any() and A.shape[1] > 1:
        out[whole] = np.var(A[whole], axis=1, ddof=1)
    for i in np.flatnonzero(~whole):
        out[i] = _var(A[i][keep[i]])
    return out


def _sds(p: PipelineState, got: tuple | None, T: int) -> np.ndarray:
    """:func:`_sd` at T targets from :meth:`PipelineState.draws_many`'s draws."""
    var = np.full(T, p.ckpt_sd ** 2 / FINAL_WINDOW)
    if got is not None:
        var = var + sum(_row_vars(a) for a in got if a is not None)
    return np.sqrt(var)


def _rows(got: tuple | None, at: np.ndarray) -> tuple | None:
    """The draws of :meth:`PipelineState.draws_many` at the targets ``at`` (row indices)."""
    return None if got is None else (got[0][at], None if got[1] is None else got[1][at])


def _one_row(got: tuple | None) -> tuple | None:
    """One target's draws (:meth:`PipelineState.draws`) as :meth:`PipelineState.draws_many`'s
    rows, for the functions of many targets to take."""
    return None if got is None else tuple(None if a is None else np.asarray(a)[None, :] for a in got)


def draw_variance_many(terms, T: int) -> np.ndarray:
    """:func:`draw_variance` at T targets at once: ``terms`` as there, each part's draws (T, B)."""
    var = np.zeros(T)
    for part in (0, 1):  # the residual bootstraps, then the chains' run bootstraps
        have = [(w, d[part]) for w, d in terms if d is not None and d[part] is not None]
        if not have:
            continue
        if len({a.shape[1] for _, a in have}) > 1:
            var = var + sum(abs(w) * _row_vars(a) for w, a in have)
            continue
        A = np.array([w * a for w, a in have])  # (K, T, B)
        var = var + _row_vars(A.sum(axis=0), np.isfinite(A).all(axis=0))
    return var


def fit_variance(pipelines: dict[str, PipelineState], weights: dict[str, float], n, d) -> float:
    """Variance of the weighted mean of the pipelines' predictions at (n, d) under their
    bootstraps, and the checkpoint noise of a target's actual.

    The pipelines draw the same resampled runs (:meth:`PipelineState.draws`), so the weighted
    mean is taken draw by draw and its variance measured directly: the pipelines' fit errors
    partly cancel in it, which the mean of their variances (what this replaced) ignored.  Draws
    that are not finite in every pipeline are left out; pipelines whose draws do not line up
    (another bootstrap size) fall back to that mean of variances, the perfectly correlated case."""
    return _fit_variance(pipelines, weights, {k: pipelines[k].draws(n, d) for k in weights})


def _fit_variance(pipelines: dict[str, PipelineState], weights: dict[str, float], draws: dict) -> float:
    """:func:`fit_variance` from each weighted pipeline's draws at the target."""
    return float(_fit_variances(pipelines, weights, {k: _one_row(draws[k]) for k in weights}, 1)[0])


def _fit_variances(pipelines: dict[str, PipelineState], weights: dict[str, float], draws: dict,
                   T: int) -> np.ndarray:
    """:func:`_fit_variance` at T targets, each weighted pipeline's draws as
    :meth:`PipelineState.draws_many` gives them."""
    ckpt = sum(w * pipelines[k].ckpt_sd ** 2 for k, w in weights.items()) / FINAL_WINDOW
    return ckpt + draw_variance_many([(w, draws[k]) for k, w in weights.items()], T)


def draw_variance(terms) -> float:
    """Variance of sum(weight x draw), taken draw by draw, over ``terms``: (weight, draws) pairs,
    the draws as :meth:`PipelineState.draws` gives them (None, or the residual-bootstrap draws
    and the run-bootstrap draws or None).  A weight may be negative (a difference of two
    ladders, :mod:`compare`).  Draws not finite in every term are left out; terms whose draws
    do not line up (another bootstrap size) fall back to sum(|weight| x variance), the
    perfectly correlated case."""
    return float(draw_variance_many([(w, _one_row(d)) for w, d in terms], 1)[0])


def welch_quantile(fit_var: float, err_var: float, fit_dof: float, err_dof: float, level: float) -> float:
    """The Student t quantile of a two-sided ``level`` interval whose variance adds two parts,
    each estimated with its own degrees of freedom (Welch-Satterthwaite)."""
    total = fit_var + err_var
    if np.isfinite(total) and total > 0:  # as shares of the total: squares of a far target's huge variance overflow
        a, b = fit_var / total, err_var / total
        dof = 1.0 / (a * a / fit_dof + b * b / err_dof)
    else:  # a variance past float range (a target far below the ladder): the fewer degrees of freedom
        dof = min(fit_dof, err_dof)
    return student_t_ppf(0.5 + level / 2, round(float(dof), 3))


@dataclass(frozen=True)
class Evaluated:
    """One task's automatic choice at one target, before its interval (:meth:`TaskState.evaluate`)."""

    center: float
    weights: dict
    """Design -> weight applied (renormalised over the pipelines that predict here)."""
    fit_var: float
    """Bootstrap variance of the weighted mean, with the checkpoint noise of the actual."""
    err_var: float
    """Squared model error at the target's distance (:class:`ModelError`)."""
    fit_dof: float
    """Degrees of freedom of ``fit_var``: the fewest of the bootstrapped laws' (runs - parameters)."""
    ext: float
    """The target's log compute beyond the ladder's mean."""
    predictions: dict
    """Design -> its prediction, for the pipelines weighted."""
    sds: dict
    """Design -> its own SD (bootstrap and checkpoint noise)."""

    @property
    def sd(self) -> float:
        return float(np.sqrt(self.fit_var + self.err_var))


@dataclass
class TaskState:
    """Every pipeline of one task, with their backtest errors: the automatic choice, fitted."""

    task: str
    pipelines: dict[str, PipelineState]
    """Design -> its state, in the backtest's order."""
    log_center: float
    """The ladder's mean log compute, from which a target's extrapolation is measured."""
    error: ModelError
    """The weighted prediction's own backtest error and how it grows with the distance."""
    left_out: tuple = ()
    """The pipelines no backtest split could fit or score, with why: ((design, reason), ...),
    for :func:`left_out_notes`."""

    def predict(self, targets, level: float, seen: dict | None = None) -> list[dict]:
        """One row per target: weighted centre, its interval, the weights, the actual if known;
        ``seen``, if given, keeps each target's :class:`Evaluated` under (task, its position), for
        the mean over tasks (:func:`aggregate.mean_rows`) to reuse.

        The centre weights the pipelines by their backtest alone (inverse MSE, renormalised
        over those that predict here).  Its variance is the bootstrap variance of that weighted
        mean (:func:`fit_variance`, the checkpoint noise of the actual included) plus the
        squared model error at the target's extrapolation distance (:class:`ModelError`).
        The interval is centre +- Student t x SD, its degrees of freedom those of the two
        parts combined (Welch-Satterthwaite), built on the logit scale so it stays inside (0, 1).
        """
        rows = []
        for i, (t, e) in enumerate(zip(targets, self.evaluate_many(targets))):
            if seen is not None:
                seen[self.task, i] = e
            q = welch_quantile(e.fit_var, e.err_var, e.fit_dof, self.error.dof, level)
            half = q * logit_sd(e.center, e.sd)
            lo, hi = (float(v) for v in expit(np.array([logit(e.center) - half, logit(e.center) + half])))
            actual = t.actual(self.task, ACC) if hasattr(t, "actual") else None
            tw = e.weights
            rows.append({"task": self.task, "target": t.name, "n": t.n, "d": t.d, "predicted": e.center,
                         "lower": lo, "upper": hi,
                         "sd": e.sd, "level": level, "interval": INTERVAL_METHOD, "actual": actual,
                         "abs_error": None if actual is None else abs(e.center - actual) * 100,
                         "covered": None if actual is None else bool(lo <= actual <= hi),
                         "pipeline": "weighted: " + ", ".join(
                             f"{d} {w_:.2f}" for d, w_ in sorted(tw.items(), key=lambda kv: -kv[1]) if w_ >= 0.05),
                         "top_pipeline": max(tw, key=tw.get), "weights": tw,
                         "design_predictions": e.predictions, "design_sd": e.sds})
        return rows

    def evaluate(self, t) -> Evaluated:
        """The weighted centre at target ``t`` and the two parts of its variance (:meth:`predict`)."""
        return self.evaluate_many([t])[0]

    def evaluate_many(self, targets) -> list[Evaluated]:
        """:meth:`evaluate` at each of ``targets``, each pipeline's law and draws evaluated for all
        of them at once (:meth:`PipelineState.draws_many`)."""
        if not len(targets):
            return []
        ns = np.array([float(t.n) for t in targets])
        ds = np.array([float(t.d) for t in targets])
        pipes = self.pipelines
        preds = {d: p.predict_many(ns, ds) for d, p in pipes.items()}
        # each pipeline's bootstrap draws, evaluated once: its SD and the weighted mean's both use them
        draws = {d: p.draws_many(ns, ds) for d, p in pipes.items()}
        sds = {d: _sds(p, draws[d], len(targets)) for d, p in pipes.items()}
        # a pipeline that cannot predict at a target (its fit or backtest failed: NaN) gets no weight there
        ok = {d: np.isfinite(preds[d]) & np.isfinite(sds[d]) & bool(np.isfinite(p.backtest_weight))
              for d, p in pipes.items()}
        groups: dict[tuple, list[int]] = {}  # targets by the pipelines they weight: one array pass each
        for i in range(len(targets)):
            groups.setdefault(tuple(d for d in pipes if ok[d][i]), []).append(i)
        out: list = [None] * len(targets)
        for use, idx in groups.items():
            if not use:
                raise TaskladderError(f"task {self.task!r}: no pipeline gives a finite prediction for "
                                      f"{targets[idx[0]].name}")
            total = sum(pipes[d].backtest_weight for d in use)
            tw = {d: pipes[d].backtest_weight / total for d in use}
            at = np.array(idx)
            center = sum(tw[d] * preds[d][at] for d in use)
            fit_var = _fit_variances(pipes, tw, {d: _rows(draws[d], at) for d in tw}, len(idx))
            # the bootstrap variance's degrees of freedom: the fewest of the bootstrapped laws' (runs -
            # parameters: 9 for the 7-parameter single step on 16 runs)
            dof = min(pipes[d].dof for d in ([d for d in use if draws[d] is not None] or use))
            for j, i in enumerate(idx):
                t = targets[i]
                ext = float(np.log(float(t.n) * float(t.d)) - self.log_center)
                out[i] = Evaluated(float(center[j]), tw, float(fit_var[j]), self.error.sd(ext) ** 2, dof, ext,
                                   {d: float(preds[d][i]) for d in use}, {d: float(sds[d][i]) for d in use})
        return out


def predict_rows(states: dict[str, TaskState], tasks: Sequence[str], targets, level: float,
                 seen: dict | None = None) -> list[dict]:
    """Every task's rows for every target (:meth:`TaskState.predict`, ``seen`` as there): each
    task's from its own state alone, so its interval does not change with the other tasks requested."""
    return [r for t in tasks for r in states[t].predict(targets, level, seen)]


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


@lru_cache(maxsize=1)
def _quadrature() -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1]: 8 panels of 12, halving towards 1 (0-1/2,
    1/2-3/4, ...), where the t density's integrand below has its steep end for heavy tails."""
    u, w = np.polynomial.legendre.leggauss(12)
    edges = np.array([0.0, *(1.0 - 0.5 ** k for k in range(1, 8)), 1.0])
    a, b = edges[:-1, None], edges[1:, None]
    return (a + (b - a) * (u + 1) / 2).ravel(), ((b - a) * w / 2).ravel()


@lru_cache(maxsize=256)
def student_t_ppf(p: float, dof: float) -> float:
    """The ``p`` quantile of Student's t with ``dof`` degrees of freedom (scipy.stats.t.ppf,
    which takes ~0.8 s to import: the interactive path computes it here; scipy.special's
    ``stdtrit`` alone ~0.3 s, as long as the whole warm prediction).

    With x = sqrt(dof) tan(theta) the CDF is 1/2 + c sqrt(dof) times the integral of
    cos(theta)^(dof - 1) from 0 to atan(x / sqrt(dof)): bounded for dof >= 1, and steep only near
    pi / 2 when dof is near 1, where the panels of :func:`_quadrature` crowd.  Its 96 Gauss-Legendre
    nodes give the quantile as accurately as Simpson's rule on 4,096 intervals of the density did,
    in 1/7 of the time (the quantile was half of a 100-target sweep's).
    Inverted by Newton's method from the Cornish-Fisher start.  Equal to scipy's to 4e-11
    relative for 1 <= dof <= 1000 up to p = 0.9995, tested; beyond, the normalising constant's
    difference of two large lgammas loses digits (2e-10 at dof 3000), as it did before.
    """
    from math import atan, exp, lgamma, pi, sqrt
    from statistics import NormalDist

    if not 0.0 < p < 1.0 or dof <= 0:
        raise TaskladderError(f"Student t quantile needs 0 < p < 1 and dof > 0, got p={p}, dof={dof}")
    if p < 0.5:
        return -student_t_ppf(1.0 - p, dof)
    if p == 0.5:
        return 0.0
    c = exp(lgamma((dof + 1) / 2) - lgamma(dof / 2)) / sqrt(dof * pi)
    nodes, weights = _quadrature()
    root = sqrt(dof)

    def pdf(x: float) -> float:
        return c * (1.0 + x * x / dof) ** (-(dof + 1) / 2)

    def cdf(x: float) -> float:
        theta = atan(x / root)
        return 0.5 + c * root * theta * float(weights @ np.cos(theta * nodes) ** (dof - 1))

    # Newton from the normal quantile's Cornish-Fisher correction (Abramowitz & Stegun 26.7.5),
    # kept inside the bracket [lo, hi] it narrows; bisection where a step would leave it
    lo, hi = 0.0, float("inf")
    z = NormalDist().inv_cdf(p)
    x = z + (z ** 3 + z) / (4 * dof) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * dof ** 2)
    for _ in range(200):
        g = cdf(x) - p
        if g < 0:
            lo = x
        else:
            hi = x
        dens = pdf(x)
        step = g / dens if dens > 0 else float("nan")
        if abs(step) <= 1e-13 * max(1.0, x):
            return x - step
        x -= step
        if not lo < x < hi:
            x = 2.0 * lo + 1.0 if hi == float("inf") else 0.5 * (lo + hi)
    return x


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
    # with u = e^s and c = e^mu + e^-mu, expit(mu + s) - expit(mu - s) = 2 half is the quadratic
    # (1 - 2 half) u^2 - 2 half c u - (1 + 2 half) = 0, whose positive root is u; u - 1 is
    # taken apart so a small sd keeps its precision (sqrt(1 + x) - 1 = x / (sqrt(1 + x) + 1))
    from math import cosh, log1p, sqrt

    hc = 2.0 * half * cosh(mu)
    x = hc * hc - 4.0 * half * half
    return log1p((hc + 2.0 * half + x / (sqrt(1.0 + x) + 1.0)) / (1.0 - 2.0 * half))


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
                rows.append({"task": self.task, "target": t.name, "n": t.n, "d": t.d, "predicted": acc,
                             "actual": actual,
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
    tpp_min: float = float("nan")
    """Fewest final tokens per parameter (D / N) of any run."""
    tpp_max: float = float("nan")
    """Most final tokens per parameter of any run."""
    acc_range: tuple = ()
    """Per task with accuracy: (task, lowest and highest final accuracy over the runs, the
    accuracy's checkpoint-to-checkpoint SD), for :func:`flat_note`."""
    runs: tuple = ()
    """The ladder's run names, for :func:`in_sample_note`."""
    short: tuple = ()
    """Per run whose name gives a Chinchilla multiple its tokens fall short of: (run, the multiple
    its final D reaches, the name's), for :func:`short_note`."""
    c4_gaps: tuple = ()
    """The runs without C4 loss when others have it (the ``c4`` pipeline's feature), for :func:`c4_note`."""
    gaps: tuple = ()
    """Per task not scored on every run: (task, the runs without any of its values, and per metric
    the other runs without that metric's: ((metric, runs), ...)), for :func:`gap_note`."""
    early: tuple = ()
    """Per task whose results end before some run's last checkpoint: (task, ((run, the share of
    the run's final tokens they reach, the metrics that end early or () for all), ...)), for
    :func:`early_note`."""
    c4_early: tuple = ()
    """The runs whose C4 loss ends before their last checkpoint: ((run, share of its tokens), ...)."""
    duplicates: tuple = ()
    """Groups of runs holding identical results (one run read twice), for :func:`duplicate_note`."""
    finals_only: bool = False
    """Whether no run has 3 checkpoints (a ladder evaluated at its runs' ends), for :func:`finals_note`."""
    compute: tuple = ()
    """The smallest and largest training compute 6 N D of the runs (final D), where
    :mod:`taskladder.reach` starts and ends its search."""


def range_note(span: LadderSpan, target) -> str | None:
    """A warning when a target lies below the ladder (smaller N or D than every rung), else None.

    The laws are fitted to extrapolate upwards; below the ladder they extrapolate
    downwards, where nothing constrains them.
    """
    if target.n < span.n_min or target.d < span.d_min:
        return (f"{target.name} lies below the ladder (smallest rung N={span.n_min:.3g}, D={span.d_min:.3g}): "
                "the laws are extrapolated downwards, where nothing constrains them")
    return None


#: A target past this many times the compute of the ladder's largest run is farther than the
#: method has been checked: the paper's targets are ~80x and ~200x its ladder's 1B-10xC
#: (7B-4T and 13B-5T, bundled), and the backtests that measure the interval's error hold out
#: runs a few times the compute of those they are fitted on.
FAR_COMPUTE = 1e3


def far_note(span: LadderSpan, target) -> str | None:
    """A warning when a target needs more than :data:`FAR_COMPUTE` times the compute 6 N D of the
    ladder's largest run, else None.

    The interval's model error grows linearly with the log compute beyond the ladder
    (:class:`ModelError`), measured at the backtests' few-fold distances: that far out both the
    laws and that growth are assumptions nothing in the ladder has tested.
    """
    if len(span.compute) != 2 or not span.compute[1] > 0:  # a span without it (an older cache)
        return None
    ratio = 6.0 * float(target.n) * float(target.d) / float(span.compute[1])
    if not ratio > FAR_COMPUTE:
        return None
    return (f"{target.name} needs {ratio:,.0f}x the compute of the ladder's largest run (beyond "
            f"{FAR_COMPUTE:,.0f}x), farther than the method has been checked: the prediction and its interval "
            "assume that the laws, and the error's growth with distance, hold that far")


def ratio_note(span: LadderSpan, target) -> str | None:
    """A warning when every run trains on about the same tokens per parameter (D / N within a
    factor 2) and the target does not (beyond 1.5x of that range), else None.

    With D proportional to N over the ladder, step 1's N and D terms cannot be told apart
    (any split of the loss between them fits), so a target at another D / N is predicted on
    whichever split the fit happened to take; the paper trains each size at 1, 2, 5 and 10x.
    """
    lo, hi = span.tpp_min, span.tpp_max
    if not (lo > 0 and hi / lo < 2.0):
        return None
    tpp = float(target.d) / float(target.n)
    if lo / 1.5 <= tpp <= hi * 1.5:
        return None
    runs = f"{lo:.3g}" if hi / lo < 1.01 else f"{lo:.3g}-{hi:.3g}"
    return (f"every ladder run trains on {runs} tokens per parameter and {target.name} on {tpp:.3g}: "
            "the ladder cannot tell the N and D terms of step 1 apart, so this prediction rests on how the fit "
            "split them; train some sizes at other token multiples (the paper: 1, 2, 5 and 10 x 20N)")


#: Below this spread of final accuracies over the ladder (or 5 checkpoint SDs, if more) a task
#: counts as flat: the bundled ladder's narrowest, MMLU, spans 9 points (26.9-36.0%).
FLAT_SPREAD = 0.03


def flat_note(span: LadderSpan, task: str) -> str | None:
    """A warning when a task's final accuracy hardly differs across the ladder's runs (within
    :data:`FLAT_SPREAD`, or 5 of its checkpoint SDs), else None.

    Step 2 then has no slope to fit: every pipeline predicts about the ladder's level, so an
    ability that appears only at larger scale (the MC format, at chance on ladder-sized models,
    which is why the paper fits its step 2 on the targets' own checkpoints, appendix B.2) is
    predicted absent, with an interval that knows nothing of it.
    """
    for name, lo, hi, noise in span.acc_range:
        if name == task and hi - lo < max(FLAT_SPREAD, 5.0 * noise):
            return (f"task {task!r}: its accuracy hardly moves over the ladder ({100 * lo:.1f}-{100 * hi:.1f}% at the "
                    "runs' ends), so the ladder cannot show whether or where it starts to rise, and the prediction "
                    "assumes it does not; larger rungs, or the target's own checkpoints (taskladder forecast), can tell")
    return None


#: A run whose final D is below this share of the multiple its name says (``1B-10xC``: 10 x 20 N)
#: is named: the bundled runs reach 1.000-1.0015 of theirs.
SHORT_OF_NAME = 0.9


def short_note(span: LadderSpan) -> str | None:
    """A warning naming the runs that end short of the tokens their names say, else None.

    A run still training (a ladder read while its largest runs go on) ends at a checkpoint
    whose learning rate has not decayed, so its loss is higher than the finished run's would
    be, and step 1 takes it as the run's final point."""
    if not span.short:
        return None
    runs = _run_list([f"{r} ({got:.2g}xC)" for r, got, _ in span.short])
    one = len(span.short) == 1
    return (f"{'run' if one else 'runs'} {runs} {'ends' if one else 'end'} short of the tokens "
            f"{'its name says' if one else 'their names say'}: a run still training has no annealed final "
            "checkpoint, and step 1 fits its last one as final; leave it out until it ends (or, if N counts "
            "embeddings, give non-embedding N)")


def c4_note(span: LadderSpan) -> str | None:
    """A warning naming the runs without C4 loss on a ladder where others have it, else None:
    the ``c4`` pipeline of every task is fitted on the others."""
    if not span.c4_gaps:
        return None
    k = len(span.c4_gaps)
    return (f"{k} of the ladder's {len(span.runs)} runs {'has' if k == 1 else 'have'} no C4 loss "
            f"({_run_list(span.c4_gaps)}): every task's c4 pipeline is fitted and backtested on the others")


def duplicate_note(span: LadderSpan) -> str | None:
    """A warning naming runs whose results are identical, else None: one run read twice (its own
    file and a W&B export of the whole ladder, under two names) counts twice in every fit."""
    if not span.duplicates:
        return None
    groups = "; ".join(" and ".join(g) for g in span.duplicates[:4])
    return (f"runs {groups} hold identical results, as no two trained runs do: one run read twice (from two "
            "files or exports?) counts twice in every fit and backtest; leave the copies out")


def finals_note(span: LadderSpan) -> str | None:
    """A warning when no run has 3 checkpoints, else None: step 2 then rests on a point or two
    per run instead of the hundreds along the runs (paper section 3.2), and the accuracy's
    checkpoint-to-checkpoint noise, part of every interval, cannot be measured."""
    if not span.finals_only:
        return None
    return ("no run has 3 checkpoints (a ladder evaluated only at its runs' ends?): step 2 is fitted on a "
            "point or two per run, not on every checkpoint as in the paper, and the intervals leave out the "
            "accuracy's checkpoint-to-checkpoint noise, which needs 3 to measure")


def early_note(span: LadderSpan, task: str) -> str | None:
    """A warning when ``task``'s results on some run end before that run's last checkpoint (its
    final evaluation failed, or the task was added after it), else None: step 1 then takes an
    earlier checkpoint, whose learning rate had not decayed, as the run's final point."""
    for name, runs in span.early:
        if name == task:
            listed = _run_list([f"{share:.0%} of {r}'s tokens{' (' + ', '.join(ms) + ')' if ms else ''}"
                                for r, share, ms in runs])
            one = len(runs) == 1
            return (f"task {task!r}: scored only up to {listed}: the fits take that earlier, not annealed "
                    f"checkpoint as the run's final one; score {'its' if one else 'their'} final "
                    f"{'checkpoint' if one else 'checkpoints'} on {task}")
    return None


def c4_early_note(span: LadderSpan) -> str | None:
    """:func:`early_note` for the C4 loss, the ``c4`` pipeline's feature of every task."""
    if not span.c4_early:
        return None
    listed = _run_list([f"{share:.0%} of {r}'s tokens" for r, share in span.c4_early])
    return (f"C4 loss logged only up to {listed}: every task's c4 pipeline takes that earlier, not annealed "
            "checkpoint as the run's final one")


def _run_list(runs) -> str:
    return listed(runs)


def gap_note(span: LadderSpan, task: str) -> str | None:
    """A warning when ``task`` was not scored on every run of the ladder (an evaluation that
    failed or was never run), else None: its laws then rest on fewer runs than the ladder has,
    and where the missing runs are the largest, the backtest holds out smaller ones."""
    for name, absent, partial in span.gaps:
        if name != task:
            continue
        said = [(absent, "results")] if absent else []
        said += [(runs, metric) for metric, runs in partial]
        one = [("run has", "runs have"), ("runs has", "runs have")]  # "1 more run has", "1 of 16 runs has"
        of = [f" of the ladder's {len(span.runs)}"] + [" more"] * len(said)
        said = [f"{len(runs)}{of[i]} {one[i == 0][len(runs) != 1]} no {task} {what} ({_run_list(runs)})"
                for i, (runs, what) in enumerate(said)]
        return (f"task {task!r}: " + "; ".join(said) + ": it is fitted and backtested on the runs that have them")
    return None


def by_reason(pairs) -> dict[str, list[str]]:
    """``((design, why), ...)`` grouped as ``{why: [design, ...]}``, in first-seen order."""
    out: dict[str, list[str]] = {}
    for design, why in pairs:
        out.setdefault(why, []).append(design)
    return out


def left_out_notes(left_out: dict[str, tuple]) -> list[str]:
    """A note per reason the automatic choice could not weigh some pipelines (no bits-per-byte or
    C4 loss, as a W&B export of accuracies and lm-eval's outputs lack), naming them and the tasks: its
    weights and interval then rest on the others, not on the paper's own pipeline.
    ``left_out``: per task, ((design, why), ...) (:attr:`TaskState.left_out`)."""
    said: dict[tuple, list[str]] = {}
    for task, pairs in left_out.items():
        for why, designs in by_reason(pairs).items():
            said.setdefault((tuple(designs), why), []).append(task)
    notes = []
    for (designs, why), tasks in said.items():
        who = ("every task" if len(tasks) == len(left_out) > 1 else
               f"task{'s' * (len(tasks) > 1)} {_run_list([repr(t) for t in tasks])}")
        what = " and ".join([", ".join(designs[:-1]), designs[-1]] if len(designs) > 1 else designs)
        notes.append(f"{who}: {why}, so the automatic choice leaves out {what} and weighs the other pipelines")
    return notes


def convention_notes(convention: str | None, targets) -> list[str]:
    """A warning per target whose actual values were measured under another metric
    convention than the ladder's (its "actual" and the prediction are on different scales)."""
    notes = []
    for t in targets:
        tc = getattr(t, "convention", None)
        if convention and tc and convention != tc:
            notes.append(f"the ladder was scored under the {convention!r} metric convention and {t.name}'s "
                         f"actuals under {tc!r}: their errors mix two scales (docs/ingest.md)")
    return notes


def in_sample_note(span: LadderSpan, target) -> str | None:
    """A warning when a target's own eval log (``--target-file``) is a run the ladder was fitted
    on: its actuals then test nothing (a folder of a team's runs often holds the big one too)."""
    results = getattr(target, "results", None)  # a plain (name, n, d) target has no log
    if results is None or "run" not in results:
        return None
    own = sorted(set(map(str, results["run"].unique())) & set(span.runs))
    if not own:
        return None
    return (f"{target.name}: the ladder was fitted on its own run {', '.join(map(repr, own))}, so this "
            "prediction is in-sample; leave that run out of --ladder to test the ladder on it")


def prediction_notes(span: LadderSpan, targets, tasks: Sequence[str]) -> list[str]:
    """Every warning a prediction of ``tasks`` for ``targets`` carries: targets below the ladder or
    far above it, at a tokens-per-parameter ratio it cannot resolve or among its own runs, tasks flat over it,
    and actuals measured under another metric convention."""
    per = [f(span, t) for f in (range_note, far_note, ratio_note, in_sample_note) for t in targets]
    per += [duplicate_note(span), finals_note(span), short_note(span), c4_note(span), c4_early_note(span)]
    per += [f(span, t) for f in (gap_note, early_note, flat_note) for t in tasks]
    return [x for x in per if x] + convention_notes(span.convention, targets)


def check_accuracies(rows: Sequence[dict], span: LadderSpan, targets) -> None:
    """Refuse predicted accuracies outside [0, 1], naming the task and target and why; one a
    rounding error outside (a task at 100% on every run predicted 1 + 2e-10) is put on the bound."""
    for r in rows:
        if -1e-9 <= r["predicted"] < 0.0 or 1.0 < r["predicted"] <= 1.0 + 1e-9:
            r["predicted"] = min(max(r["predicted"], 0.0), 1.0)
        if not 0.0 <= r["predicted"] <= 1.0:
            t = next((t for t in targets if t.name == r["target"]), None)
            why = (range_note(span, t) if t is not None else None) or "the target lies too far outside the ladder"
            raise TaskladderError(f"task {r['task']!r}, target {r['target']}: predicted accuracy "
                                  f"{r['predicted']:.4g} is outside [0, 1]; {why}")
