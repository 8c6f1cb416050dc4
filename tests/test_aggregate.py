"""The mean over tasks (taskladder.aggregate): its backtest error, its interval, and where it shows."""

import json
import numpy as np
import pandas as pd
import pytest

import taskladder
from taskladder.aggregate import ERROR_CORRELATION_FLOOR, MEAN, mean_error, mean_rows
from taskladder.datasets import olmo2_ladder
from taskladder.errors import TaskladderError
from taskladder.predictor import ModelError
from taskladder.tasks import PAPER_TASKS
from taskladder.trust import fit_states

from conftest import run_cli


def _error(scale, errors, reference=2.0, dof=4.0):
    return ModelError(scale, reference, dof, tuple(errors))


def test_the_mean_s_error_pairs_the_tasks_errors_by_held_out_run():
    # task a and b share (N, r1), (N, r2) and (C, r1); b alone has (C, r3): it is left out
    a = _error(0.02, [("N", "r1", 0.02), ("N", "r2", -0.02), ("C", "r1", 0.02)], reference=2.0)
    b = _error(0.01, [("N", "r1", 0.02), ("N", "r2", -0.02), ("C", "r1", 0.01), ("C", "r3", 0.05)], reference=3.0)
    e = mean_error([a, b])
    # by hand: the means 0.02, -0.02, 0.015; RMS sqrt((4 + 4 + 2.25) / 3) x 0.01, above the floor
    # of errors correlated 0.25, sqrt((0.25 + 0.75 / 2) x (0.02^2 + 0.01^2) / 2) = 0.0125
    assert e.scale == pytest.approx(np.sqrt(10.25 / 3) * 0.01)
    assert e.reference == pytest.approx(2.5)
    assert e.dof == 1.0  # runs r1 and r2: 2 - 1
    assert [k[:2] for k in e.errors] == [("C", "r1"), ("N", "r1"), ("N", "r2")]
    assert [k[2] for k in e.errors] == pytest.approx([0.015, 0.02, -0.02])


def test_errors_that_cancel_leave_the_floor_of_correlated_errors():
    a = _error(0.02, [("N", "r1", 0.02), ("N", "r2", -0.02)])
    b = _error(0.02, [("N", "r1", -0.02), ("N", "r2", 0.02)])
    # the means are 0: the scale is that of errors correlated 0.25, sqrt((0.25 + 0.75 / 2) x 0.02^2)
    assert ERROR_CORRELATION_FLOOR == 0.25
    assert mean_error([a, b]).scale == pytest.approx(np.sqrt(0.625) * 0.02)
    # a floor of 0 is independent errors: 0.02 / sqrt(2); of 1, perfectly correlated: 0.02
    assert mean_error([a, b], floor=0.0).scale == pytest.approx(0.02 / np.sqrt(2))
    assert mean_error([a, b], floor=1.0).scale == pytest.approx(0.02)
    # tasks held out on different runs cannot be paired: the mean of their scales (fully correlated)
    c = _error(0.04, [("N", "r9", 0.04)], dof=2.0)
    e = mean_error([a, c])
    assert e.scale == pytest.approx(0.03) and e.dof == 2.0 and e.errors == ()


@pytest.fixture(scope="module")
def states():
    d = olmo2_ladder()
    return fit_states(d.ladder, PAPER_TASKS), [d.targets["7B-4T"], d.targets["13B-5T"]]


def test_the_mean_over_the_bundled_tasks(states):
    st, targets = states
    rows = mean_rows(st, PAPER_TASKS, targets, 0.9)
    per_task = pd.DataFrame([r for t in PAPER_TASKS for r in st[t].predict(targets, 0.9)])
    for r in rows:
        g = per_task[per_task["target"] == r["target"]]
        assert r["task"] == MEAN and r["tasks"] == list(PAPER_TASKS)
        assert r["predicted"] == pytest.approx(g["predicted"].mean(), abs=1e-15)
        assert r["actual"] == pytest.approx(g["actual"].mean(), abs=1e-15)
        assert 0 < r["lower"] < r["predicted"] < r["upper"] < 1
        # covered, and much narrower than the tasks': +-3.2 / +-3.5 points against +-5.4 / +-6.2
        assert r["covered"] and abs(r["predicted"] - r["actual"]) < 0.01
        half, task_half = 50 * (r["upper"] - r["lower"]), 50 * (g["upper"] - g["lower"]).mean()
        assert 2.5 < half < 4.0 and half < 0.7 * task_half
    # the order the tasks are asked in changes nothing
    again = mean_rows(st, list(reversed(PAPER_TASKS)), targets, 0.9)
    for a, b in zip(rows, again):
        assert (a["predicted"], a["lower"], a["upper"]) == pytest.approx((b["predicted"], b["lower"], b["upper"]),
                                                                        abs=1e-14)


def test_one_task_twice_is_that_task_with_half_its_fit_variance(states):
    # the same task twice: its own errors pair up (the floor is below them), the centre is the task's,
    # and the fit variances, taken as independent, sum to half of one: sd^2 = the task's sd^2 - fit_var / 2
    st, targets = states
    t = targets[0]
    row, = st["mmlu"].predict([t], 0.9)
    twice, = mean_rows(st, ["mmlu", "mmlu"], [t], 0.9)
    fit_var = st["mmlu"].evaluate(t).fit_var
    assert twice["predicted"] == pytest.approx(row["predicted"], abs=1e-15)
    assert twice["sd"] ** 2 == pytest.approx(row["sd"] ** 2 - fit_var / 2, rel=1e-12)
    with pytest.raises(TaskladderError, match="two tasks or more"):
        mean_rows(st, ["mmlu"], [t], 0.9)


def test_the_cli_and_the_api_show_the_mean(tmp_path):
    r = run_cli("predict", "--target", "7B-4T", "--json", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    m, = got["mean"]
    assert m["target"] == "7B-4T" and m["tasks"] == list(PAPER_TASKS)
    assert m["predicted"] == pytest.approx(np.mean([p["predicted"] for p in got["predictions"]]), abs=1e-12)
    flat = pd.read_parquet(tmp_path / "o" / "mean.parquet")
    assert flat["tasks"].tolist() == [",".join(PAPER_TASKS)]
    assert flat[["predicted", "lower", "upper"]].iloc[0].tolist() == pytest.approx([m["predicted"], m["lower"],
                                                                                   m["upper"]], abs=1e-15)
    table = run_cli("predict", "--target", "7B-4T")
    line = next(ln for ln in table.stdout.splitlines() if "mean of 8" in ln)
    assert f"{100 * m['predicted']:.1f}" in line and f"[{100 * m['lower']:.1f}, {100 * m['upper']:.1f}]" in line
    one = json.loads(run_cli("predict", "--target", "7B-4T", "--task", "mmlu", "--json").stdout)
    assert one["mean"] == []

    api = taskladder.predict(targets="7B-4T", mean=True)
    row = api[api["task"] == MEAN].iloc[0]
    assert (row["predicted"], row["lower"], row["upper"]) == pytest.approx((m["predicted"], m["lower"], m["upper"]),
                                                                           abs=1e-15)
    assert len(api) == 9 and "mean" not in set(taskladder.predict(targets="7B-4T")["task"])
    with pytest.raises(TaskladderError, match="automatic choice"):
        taskladder.predict(targets="7B-4T", design="paper", mean=True)
    with pytest.raises(TaskladderError, match="two tasks or more"):
        taskladder.predict(targets="7B-4T", tasks="mmlu", mean=True)


def test_many_targets_at_once_equal_one_at_a_time_to_the_bit(states):
    """A sweep (``predict(n=[...])``, reach's grid) evaluates each pipeline at every target in one
    array pass; each target's centre, variances and per-pipeline values are those it gets alone,
    exactly, also where a pipeline has no prediction at some targets and the weights differ."""
    import copy

    from taskladder.datasets import Target

    st, targets = states
    sweep = [Target(f"t{i}", n, n * tpp) for i, (n, tpp) in
             enumerate(zip(np.geomspace(2e8, 7e11, 9), [20, 600, 45, 200, 20, 1000, 30, 80, 5]))]
    for task in ("mmlu", "arc_challenge", "hellaswag"):
        together = st[task].evaluate_many(sweep + targets)
        assert together == [st[task].evaluate(t) for t in sweep + targets]
    # one pipeline without a prediction at every other target: those weigh the rest alone
    s = copy.copy(st["piqa"])
    s.pipelines = dict(s.pipelines)
    gone = next(iter(s.pipelines))
    p = copy.copy(s.pipelines[gone])
    many = p.predict_many
    p.predict_many = lambda ns, ds: np.where(np.arange(len(ns)) % 2 == 1, np.nan, many(ns, ds))
    s.pipelines[gone] = p
    together = s.evaluate_many(sweep)
    assert [gone in e.weights for e in together] == [i % 2 == 0 for i in range(len(sweep))]
    without = copy.copy(st["piqa"])
    without.pipelines = {k: v for k, v in st["piqa"].pipelines.items() if k != gone}
    for i, t in enumerate(sweep):
        assert together[i] == (st["piqa"] if i % 2 == 0 else without).evaluate(t)
    assert st["mmlu"].evaluate_many([]) == [] and st["mmlu"].predict([], 0.9) == []
    # and the mean over tasks of a sweep is the mean of its targets one at a time
    rows = mean_rows(st, PAPER_TASKS, sweep, 0.9)
    assert rows == [mean_rows(st, PAPER_TASKS, [t], 0.9)[0] for t in sweep]


def test_the_mean_s_row_by_hand():
    """mean_rows of two stub tasks at one target, by hand with scipy: the fit variances summed over
    K^2, the model error at the tasks' mean distance, Welch-Satterthwaite degrees of freedom from the
    fewer of the tasks' fit dof, the interval on the logit scale, and the actual's error and coverage."""
    from scipy import stats
    from scipy.special import expit as sexpit, logit as slogit

    from taskladder.datasets import Target
    from taskladder.predictor import Evaluated, logit_sd

    class Stub:
        def __init__(self, center, fit_var, fit_dof, ext, errors):
            self.e = Evaluated(center, {}, fit_var, 0.0, fit_dof, ext, {}, {})
            self.error = _error(0.03, errors, reference=2.0, dof=3.0)

        def evaluate_many(self, targets):
            return [self.e for _ in targets]

    errs = [("N", "r1", 0.04), ("N", "r2", -0.02), ("N", "r3", 0.03), ("N", "r4", 0.01)]
    st = {"a": Stub(0.60, 4e-4, 9.0, 3.0, errs), "b": Stub(0.50, 1e-4, 5.0, 5.0, [(s, r, -e / 2) for s, r, e in errs])}

    class WithActuals(Target):
        def actual(self, task, metric):
            return {"a": 0.66, "b": 0.52}[task]

    t = WithActuals("t", 7e9, 4e12, None)
    row, = mean_rows(st, ["a", "b"], [t], 0.9)
    # the model error: the tasks' errors halve when averaged (0.02, -0.01, 0.015, 0.005), RMS
    # 0.013229, above the floor sqrt((0.25 + 0.75 / 2) x 0.03^2) = 0.023717, which it is at;
    # grown with the mean distance 4 over the reference 2
    scale = np.sqrt(0.625) * 0.03
    err_var = (scale * 4.0 / 2.0) ** 2
    fit_var = (4e-4 + 1e-4) / 4
    sd = np.sqrt(fit_var + err_var)
    a, b = fit_var / (fit_var + err_var), err_var / (fit_var + err_var)
    dof = 1.0 / (a * a / 5.0 + b * b / 3.0)  # the fewer fit dof (5), the error's 3 (4 runs less one)
    q = stats.t.ppf(0.95, round(dof, 3))  # the dof to 3 decimals, as every interval's (predictor.welch_quantile)
    center = 0.55
    half = q * logit_sd(center, sd)
    assert row["predicted"] == pytest.approx(center, abs=1e-15)
    assert row["sd"] == pytest.approx(sd, rel=1e-12)
    assert row["lower"] == pytest.approx(sexpit(slogit(center) - half), rel=1e-6)
    assert row["upper"] == pytest.approx(sexpit(slogit(center) + half), rel=1e-6)
    # the actual is the mean of the tasks' (0.59), its error in points, covered
    assert row["actual"] == pytest.approx(0.59) and row["abs_error"] == pytest.approx(4.0)
    assert row["lower"] < 0.59 < row["upper"] and row["covered"] is True
    # an actual above the upper bound is not covered
    WithActuals.actual = lambda self, task, metric: {"a": 0.99, "b": 0.98}[task]
    high, = mean_rows(st, ["a", "b"], [t], 0.9)
    assert high["upper"] < high["actual"] and high["covered"] is False
