"""The batched refits (taskladder.refit) on problems with known answers: bounds, and the fallback."""

import numpy as np
import pytest
from scipy.optimize import least_squares

from taskladder.refit import batched_huber_refit, damped_gauss_newton

X = np.linspace(0, 2, 40)


def _exp_objective(y, W):
    def objective(P, rows):
        e = np.exp(P[:, 1:2] * X)
        s = np.sqrt(W[rows])
        r = (P[:, 0:1] * e - y) * s
        return 0.5 * np.sum(r * r, axis=1), r, np.stack([e * s, P[:, 0:1] * X * e * s], axis=-1)
    return objective


@pytest.mark.parametrize("small_done", [False, True])
def test_gauss_newton_stays_inside_its_bounds_and_ends_on_the_bound_least_squares_finds(small_done):
    """y = a exp(b x) with b = -0.8, fitted with b <= -1.2: the optimum is on the bound.  Every
    iterate stays inside the box and each weighting ends where scipy's bounded least squares ends."""
    rng = np.random.default_rng(0)
    y = 1.5 * np.exp(-0.8 * X) + rng.normal(0, 0.02, X.size)
    W = rng.poisson(1.0, (20, X.size)).astype(float)
    lo, hi = np.array([0.0, -5.0]), np.array([10.0, -1.2])
    inner = _exp_objective(y, W)
    seen = []

    def objective(P, rows):
        seen.append(P.copy())
        return inner(P, rows)

    P, loss, done = damped_gauss_newton(objective, np.array([1.0, -2.0]), len(W), lo, hi, None, 300, 1e-9,
                                        small_done=small_done)
    assert done.all()
    allP = np.concatenate(seen)
    assert (allP >= lo).all() and (allP <= hi).all()
    for b in range(len(W)):
        ref = least_squares(lambda p: (p[0] * np.exp(p[1] * X) - y) * np.sqrt(W[b]), [1.0, -2.0],
                            bounds=(lo, hi), xtol=1e-15, ftol=1e-15, gtol=1e-15).x
        assert P[b, 1] == -1.2 and ref[1] == pytest.approx(-1.2, abs=1e-12)
        assert P[b, 0] == pytest.approx(ref[0], rel=1e-7)


class _Line:
    """A Huber-on-log law y = exp(p0 + p1 log x) with the interface batched_huber_refit reads."""

    delta = 1e-3
    bounds = [(None, None), (0.0, None)]

    @staticmethod
    def model(x):
        lx = np.log(x)

        def f(p):
            v = np.exp(p[0] + p[1] * lx)
            jac = np.empty(v.shape + (2,))
            jac[..., 0], jac[..., 1] = v, lx * v
            return v, jac
        return f

    def coordinates(self, x):
        return self.model(x), np.array([0.5, 0.3]), self.bounds


def test_huber_refits_not_done_in_their_budget_are_finished_by_l_bfgs_b():
    """Stopped after 3 Gauss-Newton iterations, each replicate is polished by L-BFGS-B from where it
    stopped and ends at the one-by-one optimum; without the polish it is left short of it."""
    from taskladder.laws import _huber, _huber_log_fit

    x = np.linspace(1.0, 50.0, 30)
    rng = np.random.default_rng(2)
    Y = np.exp(0.2 + 0.45 * np.log(x)) * np.exp(rng.standard_t(3, (12, x.size)) * 0.01)
    law = _Line()
    f = law.model(x)

    def loss(p, y):
        return _huber(np.log(f(p)[0]) - np.log(y), law.delta)[0].sum()

    best = [_huber_log_fit(f, y, np.array([0.5, 0.3]), law.bounds, law.delta, 100_000)[0] for y in Y]
    full = batched_huber_refit(law, (x,), Y, max_iters=3)
    short = batched_huber_refit(law, (x,), Y, max_iters=3, polish=False)
    ours = np.array([loss(p, y) for p, y in zip(full, Y)])
    left = np.array([loss(p, y) for p, y in zip(short, Y)])
    opt = np.array([r.fun for r in best])
    np.testing.assert_allclose(ours, opt, rtol=1e-7)
    assert (left > opt * (1 + 1e-3)).sum() >= 6
