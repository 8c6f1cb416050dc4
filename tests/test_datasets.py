"""Targets: what a command is asked to predict (taskladder.datasets)."""

import re

import numpy as np
import pandas as pd
import pytest

from taskladder.datasets import Target, make_targets
from taskladder.errors import InputWarning, TaskladderError


@pytest.mark.parametrize("n, d, what", [(0, 4e12, "N must be"), (-7e9, 4e12, "N must be"), (np.inf, 4e12, "N must be"),
                                        (7e9, 0, "D (tokens) must be"), (7e9, -1.0, "D (tokens) must be"),
                                        (7e9, np.nan, "D (tokens) must be")])
def test_a_target_needs_a_positive_finite_n_and_d(n, d, what):
    with pytest.raises(TaskladderError, match=re.escape(f"target 't': {what} a positive number")):
        Target("t", n, d)


def _log(steps, values, run="mine"):
    return pd.DataFrame({"run": run, "size": None, "n": 1_000_000, "d": [s * 1000 for s in steps], "step": steps,
                         "task": "piqa", "metric": "acc", "value": values})


def test_actual_is_the_mean_of_the_last_checkpoints_by_step_in_any_row_order():
    steps = [1, 2, 3, 4, 5, 6, 7]
    log = _log(steps, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    shuffled = log.iloc[[6, 0, 5, 1, 4, 2, 3]].reset_index(drop=True)
    for t in (Target("a", 1e6, 7e3, log), Target("b", 1e6, 7e3, shuffled)):
        assert t.actual("piqa") == pytest.approx(np.mean([0.3, 0.4, 0.5, 0.6, 0.7]), abs=0, rel=1e-15)
        assert t.actual("piqa", window=2) == pytest.approx(0.65, abs=0, rel=1e-15)
        assert t.actual("mmlu") is None and t.compact().actual("piqa", window=2) == t.actual("piqa", window=2)


def test_a_target_file_is_predicted_at_its_last_checkpoint_unless_told(tmp_path):
    f = tmp_path / "live.csv"
    _log([10, 20, 30], [0.1, 0.2, 0.3]).to_csv(f, index=False)
    (t,) = make_targets(target_file=f)
    assert (t.name, t.n, t.d) == ("live", 1_000_000, 30_000)
    assert t.actual("piqa") == pytest.approx(0.2)
    # at its planned end, 90k tokens, the log's last checkpoints are no actual: said, and none kept
    with pytest.warns(InputWarning, match="the log ends at 3e\\+04 tokens and the prediction is for 9e\\+04"):
        (t,) = make_targets(target_file=f, tokens=90_000, name="planned")
    assert (t.name, t.d) == ("planned", 90_000) and t.actual("piqa") is None


def test_bare_targets_are_named_by_n_and_d_and_one_value_is_shared():
    ts = make_targets(n=[3_000_000_000, 6_887_575_552], tokens=4_000_000_000_000)
    assert [(t.name, t.n, t.d) for t in ts] == [("N=3e+09,D=4e+12", 3e9, 4e12),
                                                ("N=6.89e+09,D=4e+12", 6_887_575_552, 4e12)]
    ts = make_targets(n=7_000_000_000, tokens=[1_000_000_000_000, 2_000_000_000_000])
    assert [(t.n, t.d) for t in ts] == [(7e9, 1e12), (7e9, 2e12)]


def test_a_target_file_s_end_is_its_most_tokens_in_any_row_order(tmp_path):
    f = tmp_path / "live.csv"
    _log([30, 10, 20], [0.3, 0.1, 0.2]).to_csv(f, index=False)  # rows as a tool may write them
    (t,) = make_targets(target_file=f)
    assert t.d == 30_000 and t.actual("piqa", window=1) == pytest.approx(0.3)


def test_a_name_labels_one_target_of_a_budget():
    (t,) = make_targets(flops=6e21, n=1e10, name="mine")
    assert (t.name, t.n, t.d) == ("mine", 1e10, 1e11)
    with pytest.raises(TaskladderError, match="--name labels one target; a list of --flops"):
        make_targets(flops=[6e21, 1.2e22], n=1e10, name="mine")
