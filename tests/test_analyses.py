"""The paper's analyses: variance (Table 4) and the design-choice pipelines (section 6)."""

import numpy as np
import pytest

from taskladder.analyses import (
    DESIGNS,
    design_choices,
    variance,
    variance_error_correlation,
)
from taskladder.chain import Ladder
from taskladder.datasets import olmo2_ladder
from taskladder.paper import reproduce
from taskladder.tasks import ALL_TASKS, PAPER_TASKS

# Paper Table 4: SD over the last 10 checkpoints of 1B-10xC (loss, accuracy).
TABLE4_SD10 = {"mmlu": (0.0026, 0.0010), "hellaswag": (0.0007, 0.0016),
               "arc_challenge": (0.0037, 0.0040), "openbookqa": (0.0047, 0.0095)}


@pytest.fixture(scope="module")
def data():
    d = olmo2_ladder()
    return d, Ladder(d.ladder), [d.targets["7B-4T"], d.targets["13B-5T"]]


def test_table4_sd10(data):
    _, lad, _ = data
    var = variance(lad, ALL_TASKS).set_index("task")
    assert set(var["run"]) == {"1B-10xC"}  # the largest ladder run is chosen by default
    for task, (loss_sd, acc_sd) in TABLE4_SD10.items():
        assert round(var.loc[task, "loss_sd"], 4) == loss_sd
        assert round(var.loc[task, "acc_sd"], 4) == acc_sd
    # relative SD is SD / mean over the same checkpoints
    acc = next(s for s in lad.series("mmlu", "acc") if s.run == "1B-10xC").value[-10:]
    assert var.loc["mmlu", "acc_rel_sd"] == pytest.approx(np.std(acc) / np.mean(acc), rel=1e-12)


def test_design_choices_cover_every_pipeline(data):
    _, lad, targets = data
    dc = design_choices(lad, targets, PAPER_TASKS)
    # on the paper's sizes the FLOPs design counts compute as OLMo logged it
    assert set(dc["design"]) == set(DESIGNS) - {"flops"} | {"flops_olmo"}
    assert len(dc) == len(DESIGNS) * 8 * 2
    assert dc["relative_error"].between(0, 0.5).all()
    # The main design reproduces Figure 2 exactly.
    main = dc[dc["design"] == "task_bpb"].set_index(["task", "target"])["predicted"]
    rep = reproduce().predictions.set_index(["task", "target"])["predicted"]
    assert np.allclose(main.sort_index(), rep.sort_index())


def test_alternative_designs_differ_and_are_sane(data):
    _, lad, targets = data
    dc = design_choices(lad, targets, ["mmlu", "arc_challenge"], ["c4", "flops", "taskce", "single_step"])
    piv = dc.set_index(["design", "task", "target"])["predicted"]
    # C4 loss as the feature fixes most of ARC-Challenge's under-prediction (paper 6.3).
    assert piv[("c4", "arc_challenge", "7B-4T")] > 0.58
    for v in piv:
        assert 0.25 < v < 1.0


def test_variance_correlates_with_error(data):
    d, lad, targets = data
    var = variance(lad, PAPER_TASKS)
    errs = design_choices(lad, targets, PAPER_TASKS, ["task_bpb"])
    r = variance_error_correlation(var, errs, "loss_rel_sd", "abs_error")
    assert 0.5 < r < 1.0


def test_compute_vs_error(data):
    from taskladder.analyses import compute_vs_error, ladder_subsets

    _, lad, targets = data
    subsets = ladder_subsets(lad)
    assert [s[1] for s in subsets if s[0] == "N"] == ["≤ 370M", "≤ 760M", "≤ 1B"]
    assert all(len(s[2]) >= 8 for s in subsets)  # step 1 needs more runs than parameters
    cv = compute_vs_error(lad, targets, ["mmlu", "hellaswag"])
    mae = cv.groupby(["axis", "runs", "target"])["abs_error"].mean()
    full = reproduce().predictions
    want = full[full.task.isin(["mmlu", "hellaswag"])].groupby("target")["abs_error"].mean()
    for axis in ("N", "xC", "FLOPs"):
        for tgt in ("7B-4T", "13B-5T"):
            assert mae[(axis, 16, tgt)] == pytest.approx(want[tgt])  # the full ladder is the paper's fit
    # the 8 cheapest runs predict worse than the full ladder (paper Figure 6)
    assert mae[("FLOPs", 8, "7B-4T")] > mae[("FLOPs", 16, "7B-4T")]
    share = cv[(cv.axis == "FLOPs") & (cv.runs == 16) & (cv.target == "7B-4T")]["flops_share"].iloc[0]
    assert 0.01 < share < 0.05  # the ladder costs a few percent of the target (6ND)


def test_mc_format_prediction_mmlu(data):
    from taskladder.analyses import mc_predictions

    d, lad, targets = data
    mc = mc_predictions(lad, targets, ["mmlu"]).set_index("target")
    # MMLU MC accuracy of both targets (60.4 and 62.6) is predicted within 1 point.
    assert mc.loc["7B-4T", "actual"] == pytest.approx(0.604, abs=0.001)
    assert mc.loc["13B-5T", "actual"] == pytest.approx(0.626, abs=0.001)
    assert (mc["abs_error"] < 1.0).all()


# The paper's released outputs (allenai/OLMo-ladder, src/scripts/paper/figures/, Apache-2.0):
# variance.csv (7B-4T errors per step, signed; stacked as absolute) and the 13B-5T
# prediction CSVs behind Tables 5, 6 and 8.
RELEASED_7B_ERRORS = {  # task: (loss rel error, step-2 acc rel error, |stacked rel error|)
    "winogrande": (-0.045224, -0.236710, 0.088603), "boolq": (0.113804, 0.042875, 0.018367),
    "csqa": (-0.117225, -0.009967, 0.042218), "openbookqa": (0.013014, -0.081932, 0.105895),
    "arc_easy": (0.132813, -0.044921, 0.094207), "arc_challenge": (0.069623, -0.075880, 0.168687),
    "mmlu": (0.012774, 0.002681, 0.012843), "socialiqa": (0.043198, 0.047326, 0.019785),
    "piqa": (-0.020367, -0.022750, 0.010062), "hellaswag": (-0.002855, 0.010541, 0.014442)}
RELEASED_LOSS_SD = {"winogrande": 0.011522, "boolq": 0.006784, "csqa": 0.005564, "openbookqa": 0.004727,
                    "arc_easy": 0.004530, "arc_challenge": 0.003664, "mmlu": 0.002555, "socialiqa": 0.002435,
                    "piqa": 0.001948, "hellaswag": 0.000695}
TASKS8 = ["mmlu", "hellaswag", "arc_challenge", "arc_easy", "piqa", "csqa", "socialiqa", "openbookqa"]
R13 = {  # 13B-5T, in TASKS8 order
    "chained_flops": [0.483426, 0.814134, 0.574394, 0.799569, 0.820244, 0.777170, 0.580997, 0.470348],
    "step2_bpb": [0.513756, 0.841567, 0.603024, 0.819384, 0.807461, 0.717276, 0.633747, 0.457223],
    "step2_c4": [0.498802, 0.848522, 0.608326, 0.834314, 0.825590, 0.767054, 0.634938, 0.502259],
    "step1_taskce": [1.324672, 1.207380, 1.287301, 1.066426, 0.653359, 1.040515, 0.954632, 1.235206],
    "step2_taskce": [0.505246, 0.887355, 0.634715, 0.946364, 0.821899, 0.742004, 0.613813, 0.479179],
}


def test_released_variance_table_errors_and_table4_correlation(data):
    from taskladder.analyses import prediction_errors, table4_correlation

    d, lad, _ = data
    var = variance(lad, ALL_TASKS)
    for t, sd in RELEASED_LOSS_SD.items():
        assert var.set_index("task").loc[t, "loss_sd"] == pytest.approx(sd, abs=1e-6)
    errs = prediction_errors(lad, d.targets["7B-4T"], ALL_TASKS).set_index("task")
    for t, (loss_e, a, s) in RELEASED_7B_ERRORS.items():
        assert errs.loc[t, "loss_rel_error"] == pytest.approx(loss_e, abs=1e-5), t
        assert errs.loc[t, "acc_rel_error"] == pytest.approx(a, abs=5e-5), t  # BoolQ: 1.5e-5
        assert abs(errs.loc[t, "stacked_rel_error"]) == pytest.approx(s, abs=2e-4), t  # BoolQ: 1.2e-4
    # Table 4's r ~ 0.82: loss SD against |step-2 relative error| over the 10 tasks
    assert round(table4_correlation(var, errs.reset_index()), 2) == 0.82


def test_released_13b_predictions_of_every_design(data):
    from dataclasses import replace

    from taskladder.chain import TaskPredictor

    d, lad, targets = data
    t13 = d.targets["13B-5T"]
    # Table 6, FLOPs design: compute as the runs logged it; exact
    dc = design_choices(lad, targets, TASKS8, ["flops_olmo"]).set_index(["task", "target"])
    for task, want in zip(TASKS8, R13["chained_flops"]):
        assert dc.loc[(task, "13B-5T"), "predicted"] == pytest.approx(want, abs=1e-5), task
        assert dc.loc[(task, "13B-5T"), "compute"] == "olmo"
    for i, task in enumerate(TASKS8):
        bpb = TaskPredictor(task, DESIGNS["task_bpb"]).fit(lad)
        assert float(bpb.step2_.predict(t13.actual(task, "bpb"))) == pytest.approx(R13["step2_bpb"][i], abs=1e-5)
        c4 = TaskPredictor(task, DESIGNS["c4"]).fit(lad)
        assert float(c4.predict_feature(t13.n, t13.d)) == pytest.approx(2.344387, abs=1e-5)  # step1_c4_main.csv
        assert float(c4.step2_.predict(t13.actual("c4_en", "lm_loss"))) == pytest.approx(R13["step2_c4"][i], abs=1e-5)
        # TaskCE with the paper's single start (our multi-start finds a lower Social IQa optimum)
        ce = TaskPredictor(task, replace(DESIGNS["taskce"], n_starts=0)).fit(lad)
        assert float(ce.predict_feature(t13.n, t13.d)) == pytest.approx(R13["step1_taskce"][i], abs=1e-5), task
        # The log-sigmoid at the last checkpoint's TaskCE.  Its fits are straight on the data, so
        # the released scripts stopped somewhere along the (a, k) valley and we take its limit,
        # the straight line (laws.LogSigmoid): equal to 0.1 point where the target's TaskCE lies
        # well above the knee L0; where it lies within 0.03 of L0 (HellaSwag, ARC-Easy) the
        # released curve bends below the line, as every curve of the valley does.
        xa = t13.actual(task, "taskce", window=1)
        got, released = float(ce.step2_.predict(xa)), R13["step2_taskce"][i]
        if task in ("hellaswag", "arc_easy"):
            assert 0 < xa - ce.step2_.L0_ < 0.03 and released < got < released + 0.012, task
        else:
            assert got == pytest.approx(released, abs=1e-3), task


def test_variance_uses_the_largest_run_by_parameters_then_tokens(data):
    """Without 1B-10xC the largest run is 1B-5xC (most parameters), not 760M-10xC (most tokens); a
    task not evaluated on it is measured on the largest run it was evaluated on, and says so."""
    from taskladder.analyses import variance_runs

    _, lad, _ = data
    r = lad.results
    sub = Ladder(r[(r["run"] != "1B-10xC") & ~((r["run"] == "1B-5xC") & (r["task"] == "hellaswag"))])
    var = variance(sub, ["mmlu", "hellaswag"]).set_index("task")
    assert var.loc["mmlu", "run"] == "1B-5xC" and var.loc["hellaswag", "run"] == "1B-2xC"
    acc = next(s for s in sub.series("hellaswag", "acc") if s.run == "1B-2xC").value[-10:]
    assert var.loc["hellaswag", "acc_sd"] == pytest.approx(np.std(acc), rel=1e-12)
    assert variance_runs(var.reset_index()) == "1B-5xC (hellaswag: 1B-2xC)"


def test_design_choices_in_points_and_without_a_feature_the_ladder_lacks(data):
    """abs_error is in accuracy points, relative_error a fraction; by default a design whose
    feature the ladder lacks (here C4 loss) is left out, and asked for by name it is an error."""
    from taskladder.errors import TaskladderError

    _, lad, targets = data
    dc = design_choices(lad, targets, ["mmlu"], ["task_bpb"])
    act = dc["actual"].astype(float)
    np.testing.assert_allclose(dc["abs_error"], 100 * (dc["predicted"] - act).abs(), rtol=1e-12)
    np.testing.assert_allclose(dc["relative_error"], (dc["predicted"] - act).abs() / act, rtol=1e-12)
    full = reproduce().predictions.set_index(["task", "target"])["abs_error"]
    for row in dc.itertuples():
        assert row.abs_error == pytest.approx(full[(row.task, row.target)], abs=1e-9)
    r = lad.results
    no_c4 = Ladder(r[r["task"] != "c4_en"])
    assert "c4" not in set(design_choices(no_c4, targets, ["mmlu"])["design"])
    with pytest.raises(TaskladderError, match="task 'c4_en' is not in the ladder"):
        design_choices(no_c4, targets, ["mmlu"], ["c4"])


def test_single_step_fits_each_runs_mean_of_its_last_five_accuracies(data):
    from taskladder.analyses import single_step_law
    from taskladder.laws import SingleStep

    _, lad, _ = data
    acc = lad.results.query("task == 'piqa' and metric == 'acc'").sort_values("step")
    final = acc.groupby("run").agg(n=("n", "first"), d=("d", "last"), value=("value", lambda v: v.tail(5).mean()))
    want = SingleStep(chance=0.5).fit(final["n"], final["d"], final["value"])
    got = single_step_law(lad, "piqa")
    assert got.predict(7e9, 4e12) == pytest.approx(float(want.predict(7e9, 4e12)), rel=1e-9)


def test_mc_format_step2_uses_the_targets_checkpoints_in_its_step_range_smoothed(data):
    """Appendix B.2: MC step 2 is fitted on the target's checkpoints within steps 170k-450k (7B),
    each series a trailing 5-checkpoint mean, the curve pinned to chance at high loss (a + b =
    chance) and to 1 at zero loss.  Checkpoints outside the range do not matter."""
    import re
    from dataclasses import replace

    import pandas as pd

    from taskladder.analyses import mc_predictions
    from taskladder.laws import Sigmoid

    _, lad, targets = data
    t = targets[0]
    mc = mc_predictions(lad, [t], ["mmlu"]).iloc[0]
    a, b = (float(v) for v in re.fullmatch(r"Acc\(L\) = (\S+) / \(1 \+ exp\(.*\)\) \+ (\S+)", mc["step2"]).groups())
    assert a + b == pytest.approx(0.25, abs=0.006) and b >= 0.995
    full = t.full.copy()
    out = (full["step"] < 170_000) | (full["step"] > 450_000)
    full.loc[out & (full["metric"] == "mc_acc") & (full["task"] == "mmlu"), "value"] = 0.99
    again = mc_predictions(lad, [replace(t, full=full)], ["mmlu"]).iloc[0]
    assert again["predicted"] == mc["predicted"]
    # by hand: the in-range series joined on step, smoothed with pandas' rolling mean
    f = t.full[(t.full["task"] == "mmlu") & t.full["step"].between(170_000, 450_000)]
    xy = pd.merge(f[f["metric"] == "bpb"][["step", "value"]], f[f["metric"] == "mc_acc"][["step", "value"]],
                  on="step").sort_values("step")
    xs, ys = (xy[c].rolling(5, min_periods=1).mean().to_numpy() for c in ("value_x", "value_y"))
    law = Sigmoid(chance=0.25, bounds=((-0.75, 0.0, 0.0, 0.999), (-0.749, np.inf, np.inf, 1.0))).fit(xs, ys)
    assert mc["predicted"] == pytest.approx(float(law.predict(mc["predicted_feature"])), abs=1e-9)
