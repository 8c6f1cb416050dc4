"""Many refits of one law at once: the bootstrap's hundreds of refits solved as one batched problem.

A bootstrap refits a 3-7 parameter law to hundreds of resampled data sets; one optimiser
call each (L-BFGS-B, ``curve_fit``) spends most of its time in the optimiser's Python
wrapper.  Here all of them advance together by damped Gauss-Newton in numpy
(:func:`damped_gauss_newton`): step 1's residual bootstrap (Huber on log values,
:func:`batched_huber_refit`) and step 2's bootstrap over whole runs (least squares with
per-point weights, :func:`batched_ls_refit`).  ``tests/test_trust.py`` checks them against
one-by-one refits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["batched_huber_refit", "batched_ls_refit", "damped_gauss_newton"]


def damped_gauss_newton(objective, p0: np.ndarray, B: int, lo: np.ndarray, hi: np.ndarray, irls, max_iters: int,
                         rtol: float, small_done: bool = False):
    """B problems advanced together by damped Gauss-Newton (Levenberg-Marquardt) in numpy.

    ``objective(P, rows)`` returns the losses (B,), residuals r (B, n) and their Jacobians
    (B, n, k) of the problems ``rows`` at parameters ``P``; ``irls(r)`` the (B, n) weights of
    the reweighted system (None for plain least squares).  Parameters stay in [lo, hi]: one on a
    bound whose descent leaves the box is held this iteration (an active set).  A step that
    lowers a loss by less than ``rtol`` (relative) counts as failed, and a problem is done
    when its damping passes 1e6 (no damped step helps) or, with ``small_done``, at once when
    an accepted step lowers its loss by less than ``rtol`` (MINPACK's ``ftol`` test).  The
    second suits plain least squares, where Gauss-Newton's last steps are its smallest; not
    Huber's IRLS, whose tail creeps along the kinks in many tiny steps that add up.  Returns
    (P, loss, done).
    """
    k = len(p0)
    P = np.tile(p0, (B, 1))
    lam = np.full(B, 1e-3)
    cur, r, jr = objective(P, np.arange(B))
    eye = np.eye(k)
    done = np.zeros(B, bool)
    for _ in range(max_iters):
        act = np.flatnonzero(~done)
        if not len(act):
            break
        Pa, ra, jra, la = P[act], r[act], jr[act], lam[act]
        jw = jra.transpose(0, 2, 1)  # J^T W, (b, k, n): batched BLAS products below
        if irls is not None:
            jw = jw * irls(ra)[:, None, :]
        A = jw @ jra
        g = (jw @ ra[..., None])[..., 0]
        active = ((Pa <= lo + 1e-12) & (g > 0)) | ((Pa >= hi - 1e-12) & (g < 0))
        if active.any():
            keep = ~active
            A = A * keep[:, :, None] * keep[:, None, :] + np.einsum("bk,kl->bkl", active.astype(float), eye)
            g = g * keep
        diag = np.einsum("bkk->bk", A)
        # a parameter the data do not move (a zero column of the Jacobian, e.g. a saturated
        # term) gets a unit damping term, so its step is 0 instead of a singular system
        diag = np.where(diag > 1e-300, diag, 1.0)
        M = A + la[:, None, None] * (diag[:, :, None] * eye + 1e-12 * eye)
        try:
            step = np.linalg.solve(M, g[..., None])[..., 0]
        except np.linalg.LinAlgError:  # a rank-deficient problem in the batch: least squares, one by one
            step = np.stack([np.linalg.lstsq(m, v, rcond=None)[0] for m, v in zip(M, g)])
        cand = np.clip(Pa - step, lo, hi)
        new, r_new, jr_new = objective(cand, act)
        better = new < cur[act]
        real = new < cur[act] - rtol * np.abs(cur[act])
        up = act[better]  # only the improved problems move (no copy of the others' Jacobians)
        P[up], r[up], jr[up], cur[up] = cand[better], r_new[better], jr_new[better], new[better]
        lam[act] = np.where(real, np.maximum(la * 0.3, 1e-10), la * 10.0)
        stop = lam[act] > 1e6
        if small_done:
            stop |= better & ~real
        done[act] = stop
    return P, cur, done


def _finite(loss, r, jr):
    # a non-finite point is rejected by its infinite loss; zeros keep the algebra finite
    # (checked first: nearly every call is finite, and the copies cost more than the check)
    if not np.isfinite(jr).all() or not np.isfinite(r).all():
        r = np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)
        jr = np.nan_to_num(jr, nan=0.0, posinf=0.0, neginf=0.0)
    return np.where(np.isfinite(loss), loss, np.inf), r, jr


def batched_huber_refit(law, X: Sequence[np.ndarray], Y: np.ndarray, max_iters: int = 2000,
                        polish: bool = True) -> np.ndarray:
    """Refit a Huber-on-log law to many data sets at once; returns the (B, k) parameters.

    Damped Gauss-Newton on iteratively reweighted least squares (IRLS weights
    min(1, delta / |r|) give the Huber minimiser), started from the law's fitted
    parameters, projected onto the bounds, all B problems advanced together
    (:func:`damped_gauss_newton`) until no damped step lowers a problem's objective.
    One that is not done after ``max_iters`` iterations is polished by L-BFGS-B from
    where it stopped (kept only if it is lower).  Stopping after a fixed 60
    iterations, as this once did, left about half of the replicates short of their
    optimum when a parameter sat at a bound (CommonsenseQA's E = 0: bootstrap spread
    0.0235 instead of 0.047); ``tests/test_trust.py`` compares every replicate with a
    one-by-one L-BFGS-B refit.  ``polish=False`` keeps where Gauss-Newton stopped (the one-step
    laws' bootstraps, docs/trust.md).
    """
    from .laws import _huber_log_fit

    xs = [np.asarray(x, float) for x in X]
    f, x0, bounds = law.coordinates(*[x[None, :] for x in xs])
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    logY = np.log(Y)
    delta = law.delta

    def objective(P, rows):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            pred, jac = f(P.T[:, :, None])
            r = np.log(pred) - logY[rows]
            jr = jac / pred[..., None]
        a = np.abs(r)
        return _finite(np.where(a < delta, 0.5 * r * r, delta * (a - 0.5 * delta)).sum(axis=1), r, jr)

    P, cur, done = damped_gauss_newton(objective, x0, Y.shape[0], lo, hi,
                                        lambda r: np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300)),
                                        max_iters, 1e-12)
    if not polish:
        return P
    model = law.coordinates(*xs)[0]
    for b in np.flatnonzero(~done):  # the fallback: L-BFGS-B from where Gauss-Newton stopped
        res, _, _ = _huber_log_fit(model, Y[b], P[b], bounds, delta, 100_000)
        if np.isfinite(res.fun) and res.fun < cur[b]:
            P[b] = res.x
    return P


def batched_ls_refit(law, x: np.ndarray, y: np.ndarray, W: np.ndarray, max_iters: int = 300) -> np.ndarray:
    """Refit a least-squares curve (step 2: Sigmoid, LogSigmoid) to many weightings of its
    points at once; returns the (B, k) parameters.

    Row b of ``W`` weights each point (a run drawn twice counts twice: the run bootstrap).
    Damped Gauss-Newton from the fitted parameters (:func:`damped_gauss_newton`), at most
    ``max_iters`` iterations: what is used is the predicted accuracy, which settles long
    before the parameters of a flat direction stop creeping (PIQA's TaskCE design, whose
    log-sigmoid bends on its data: SD 0.811 points after 300 iterations, 0.819 after 2,000,
    10x the time).  A step lowering the loss by less than 1e-9 (relative) ends that refit:
    until 2026-12-04 it only raised the damping, and each refit then spent ~9 more iterations
    (a third of its work) failing its way to the damping limit; the refits' predictions moved
    by at most 0.0014 points (docs/speed.md).
    """
    x, y, W = np.asarray(x, float), np.asarray(y, float), np.asarray(W, float)
    lo, hi = (np.asarray(b, float) for b in law.bounds)
    sw = np.sqrt(W)
    batched = law._batched  # value and Jacobian in one pass (one exp per point, no stacking)

    def objective(P, rows):
        with np.errstate(over="ignore", invalid="ignore"):
            pred, jac = batched(x, P)
        s = sw[rows]
        r = (pred - y) * s
        jac *= s[..., None]
        return _finite(0.5 * np.sum(r * r, axis=1), r, jac)

    P, _, _ = damped_gauss_newton(objective, law.popt_, W.shape[0], lo, hi, None, max_iters, 1e-9, small_done=True)
    return P
