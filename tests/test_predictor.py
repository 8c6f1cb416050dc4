"""The notes and checks a prediction carries (taskladder.predictor), at their thresholds."""

import pytest

from taskladder.datasets import Target
from taskladder.errors import TaskladderError
from taskladder.predictor import (LadderSpan, check_accuracies, convention_notes, far_note, in_sample_note,
                                  prediction_notes, range_note, ratio_note)

# the bundled ladder's smallest rung: 190M parameters, 3.8B tokens
SPAN = LadderSpan(n_min=1.9e8, d_min=3.8e9, tpp_min=20.0, tpp_max=200.0)


@pytest.mark.parametrize("n, d, below", [(7e9, 4e12, False), (1e8, 4e12, True), (7e9, 1e9, True),
                                         (1.9e8, 3.8e9, False)])
def test_a_target_below_the_ladder_in_n_or_in_d_is_named(n, d, below):
    note = range_note(SPAN, Target("t", n, d))
    assert (note is not None) == below
    if below:
        assert note.startswith("t lies below the ladder (smallest rung N=1.9e+08, D=3.8e+09)")


@pytest.mark.parametrize("n, d, ratio", [(6887575552, 3945065873408, None), (13202396160, 5000088518656, None),
                                         (7e10, 1.5e13, "3,207"), (1e9, 1e16, "30,544")])
def test_a_target_past_a_thousand_times_the_largest_runs_compute_is_named(n, d, ratio):
    """The bundled ladder's runs span 6ND = 4.35e18-1.96e21 (190M-1xC to 1B-10xC): the paper's
    targets (83x and 202x) are not warned about, a 70B-15T (3,207x) is, and so is 1B at 1e16 tokens."""
    span = LadderSpan(n_min=1.9e8, d_min=3.8e9, compute=(4.354491499010851e18, 1.9643501024500934e21))
    note = far_note(span, Target("t", n, d))
    assert (note is None) == (ratio is None)
    if ratio:
        assert note.startswith(f"t needs {ratio}x the compute of the ladder's largest run (beyond 1,000x)")
        assert note in prediction_notes(span, [Target("t", n, d)], [])
    # at the threshold itself, nothing; a span without the ladder's compute (an older cache), nothing
    assert far_note(span, Target("t", 1e3 * 1.9643501024500934e21 / 6.0 / 1e12, 1e12)) is None
    assert far_note(SPAN, Target("t", 1e12, 1e16)) is None


@pytest.mark.parametrize("tpp, warned", [(20.0, False), (31.0, False), (32.0, True), (14.0, False), (13.0, True),
                                         (600.0, True)])
def test_one_tokens_per_parameter_ratio_warns_beyond_one_and_a_half_times_it(tpp, warned):
    """Every run at 20-21 tokens per parameter: a target within 1.5x of that range is not warned
    about; beyond it is."""
    span = LadderSpan(n_min=1.9e8, d_min=3.8e9, tpp_min=20.0, tpp_max=21.0)
    note = ratio_note(span, Target("t", 7e9, 7e9 * tpp))
    assert (note is not None) == warned
    # a ladder at several multiples (the paper's 1-10x) never warns
    assert ratio_note(SPAN, Target("t", 7e9, 7e9 * tpp)) is None


def test_a_target_file_of_one_of_the_ladders_runs_is_said_to_be_in_sample():
    import pandas as pd

    span = LadderSpan(n_min=1.9e8, d_min=3.8e9, runs=("1B-10xC", "190M-1xC"))
    log = pd.DataFrame({"run": ["1B-10xC"], "step": [1], "task": ["piqa"], "metric": ["acc"], "value": [0.7]})
    notes = prediction_notes(span, [Target("mine", 1.2e9, 2.6e11, log)], ["piqa"])
    assert notes == ["mine: the ladder was fitted on its own run '1B-10xC', so this prediction is in-sample; "
                     "leave that run out of --ladder to test the ladder on it"]
    assert in_sample_note(span, Target("other", 1.2e9, 2.6e11, log.assign(run="7B-live"))) is None
    assert in_sample_note(span, Target("bare", 1.2e9, 2.6e11)) is None  # no log: nothing to compare


def test_the_span_names_the_ladders_runs():
    import numpy as np

    from taskladder.chain import ladder_span
    from taskladder.simulate import TrueLaws, synthetic_ladder

    lad = synthetic_ladder(TrueLaws(), np.random.default_rng(0))
    assert ladder_span(lad).runs == tuple(sorted(lad["run"].unique()))


def test_actuals_of_another_metric_convention_are_named():
    same, other = Target("a", 7e9, 4e12, scored_as="olmo"), Target("b", 7e9, 4e12, scored_as="lm_eval")
    assert convention_notes("olmo", [same]) == []
    notes = convention_notes("olmo", [same, other])
    assert len(notes) == 1 and "'olmo'" in notes[0] and "b's actuals under 'lm_eval'" in notes[0]
    assert convention_notes(None, [other]) == []  # a ladder of unknown convention: nothing to compare


@pytest.mark.parametrize("p", [-0.01, 1.01])
def test_an_accuracy_outside_zero_one_is_refused_naming_task_and_target(p):
    rows = [{"task": "mmlu", "target": "t", "predicted": 0.5}, {"task": "piqa", "target": "t", "predicted": p}]
    with pytest.raises(TaskladderError, match=r"task 'piqa', target t: predicted accuracy .* is outside \[0, 1\]"):
        check_accuracies(rows, SPAN, [Target("t", 7e9, 4e12)])
    check_accuracies(rows[:1], SPAN, [Target("t", 7e9, 4e12)])


def test_draw_variance_by_hand():
    """Draw by draw when the bootstraps line up (non-finite draws left out of every term); the sum
    of |weight| x variance, the perfectly correlated bound, when they do not."""
    import numpy as np

    from taskladder.predictor import draw_variance

    a = np.array([0.50, 0.52, 0.47, 0.55, 0.51])
    b = np.array([0.40, 0.43, 0.41, np.nan, 0.39])
    got = draw_variance([(0.75, (a, None)), (0.25, (b, None))])
    keep = np.isfinite(b)
    assert got == pytest.approx(np.var(0.75 * a[keep] + 0.25 * b[keep], ddof=1), rel=1e-12)
    # a difference of two ladders (weights +1 and -1) whose bootstraps differ in size
    c = np.array([0.30, 0.36, 0.33])
    got = draw_variance([(1.0, (a, None)), (-1.0, (c, None))])
    assert got == pytest.approx(np.var(a, ddof=1) + np.var(c, ddof=1), rel=1e-12)
    # weights that are not +-1: each variance weighted by |weight|, not by its square
    got = draw_variance([(0.75, (a, None)), (0.25, (c, None))])
    assert got == pytest.approx(0.75 * np.var(a, ddof=1) + 0.25 * np.var(c, ddof=1), rel=1e-12)
    # the run bootstrap's draws add their own variance
    got = draw_variance([(1.0, (a, c))])
    assert got == pytest.approx(np.var(a, ddof=1) + np.var(c, ddof=1), rel=1e-12)


def test_a_fitted_chain_refuses_counts_that_are_not_positive_numbers():
    """TaskPredictor.predict(N, D), the Python entry of the README: a negative or zero N, a NaN
    or a word is one clear error, not a NaN or inf accuracy; numbers and arrays predict."""
    import re

    import numpy as np

    from taskladder import TaskPredictor
    from taskladder.datasets import olmo2_ladder

    p = TaskPredictor("mmlu").fit(olmo2_ladder().ladder)
    assert round(100 * float(p.predict(6_887_575_552, 3_945_065_873_408)), 1) == 48.4  # Figure 2
    both = p.predict([7e9, 13e9], np.array([4e12, 5e12]))
    assert both.shape == (2,) and both[0] == p.predict(7e9, 4e12) == p.predict("7e9", 4e12)
    for args, message in (((-7e9, 4e12), "N must be positive and finite, got -7e+09"),
                          ((7e9, [4e12, 0]), "D must be positive and finite, got 0"),
                          ((float("nan"), 4e12), "N must be positive and finite, got nan"),
                          (("7B", 4e12), "N must be numbers")):
        with pytest.raises(TaskladderError, match=re.escape(message)):
            p.predict(*args)
