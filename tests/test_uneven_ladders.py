"""Ladders where a task was not evaluated on every run (an eval added late, a run whose
evals failed): each command uses the runs the task has."""

import json

import pytest
from conftest import run_cli

from taskladder.analyses import variance, variance_runs
from taskladder.chain import Ladder
from taskladder.datasets import bundled_targets, olmo2_ladder
from taskladder.trust import backtest


@pytest.fixture(scope="module")
def holes():
    """The bundled ladder with PIQA missing on its largest run and on its smallest."""
    lad = olmo2_ladder().ladder
    return lad[~((lad["task"] == "piqa") & lad["run"].isin(["1B-10xC", "190M-1xC"]))]


def test_the_backtest_holds_out_the_largest_runs_a_task_has(holes):
    bt = backtest(Ladder(holes), ["piqa", "mmlu"], ["task_bpb"], coverage=False)
    held = {(s, t): sorted(g["run"]) for (s, t), g in bt.groupby(["split", "task"])}
    assert held["N", "mmlu"] == ["1B-10xC", "1B-1xC", "1B-2xC", "1B-5xC"]
    # PIQA lacks 1B-10xC: its next largest run takes its place, so it is scored on 4 runs too
    assert held["N", "piqa"] == ["1B-1xC", "1B-2xC", "1B-5xC", "760M-10xC"]
    assert held["compute", "mmlu"] == ["1B-10xC", "1B-2xC", "1B-5xC", "760M-10xC"]
    assert held["compute", "piqa"] == ["1B-2xC", "1B-5xC", "760M-10xC", "760M-5xC"]


def test_a_task_missing_from_the_largest_size_is_backtested_on_the_next(tmp_path):
    # PIQA never scored on the 1B runs: holding out the ladder's 1B runs left its by-N split
    # nothing to score and its training set the full fit's, so its weights and error rested on
    # one split; now it holds out its own largest runs, and every prediction says what it lacks
    import numpy as np

    from taskladder.chain import ladder_span, run_table
    from taskladder.predictor import prediction_notes

    lad = olmo2_ladder().ladder
    no1b = lad[~((lad["task"] == "piqa") & lad["run"].str.startswith("1B-"))]
    bt = backtest(Ladder(no1b), ["piqa"], ["task_bpb"], coverage=False)
    by_n = bt[bt["split"] == "N"]
    assert sorted(by_n["run"]) == ["760M-10xC", "760M-1xC", "760M-2xC", "760M-5xC"]
    # the distance is measured from the runs PIQA is trained on (190M and 370M), not the ladder's
    runs = run_table(lad)
    logc = np.log(runs["n"].astype(float) * runs["d"].astype(float))
    center = logc[runs.index.str[:4].isin(["190M", "370M"])].mean()
    assert np.allclose(by_n["log_extrapolation"], logc[by_n["run"]].to_numpy() - center, rtol=0, atol=1e-12)
    (note,) = prediction_notes(ladder_span(Ladder(no1b)), [], ["piqa", "mmlu"])
    assert note == ("task 'piqa': 4 of the ladder's 16 runs have no piqa results (1B-1xC, 1B-2xC, 1B-5xC, 1B-10xC): "
                    "it is fitted and backtested on the runs that have them")
    # a metric missing from some runs only, named after the runs missing the whole task
    part = no1b[~((no1b["task"] == "piqa") & (no1b["metric"] == "acc") & (no1b["run"] == "190M-1xC"))]
    (note,) = prediction_notes(ladder_span(Ladder(part)), [], ["piqa"])
    assert "1B-10xC); 1 more run has no piqa acc (190M-1xC): it is" in note
    assert prediction_notes(ladder_span(Ladder(lad)), [], ["piqa", "mmlu"]) == []


def test_a_task_scored_on_too_few_runs_for_the_automatic_choice_is_named(tmp_path):
    lad = olmo2_ladder().ladder
    few = lad[~((lad["task"] == "piqa") & lad["run"].str.startswith(("190M-", "370M-")))]
    few.to_csv(tmp_path / "few.csv", index=False)
    r = run_cli("predict", "--ladder", tmp_path / "few.csv", "--n", "7B", "--tokens", "4T", "--task", "mmlu,piqa")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == (
        "taskladder: error: the automatic choice backtests on 4 held-out rungs and needs at least 10 ladder runs, "
        "and task 'piqa' was scored on 8 of the ladder's 16 runs; leave it out of --task; --paper (or --design "
        "NAME) uses one fixed pipeline, which needs 5")
    # the paper's fixed pipeline fits it on its 8 runs, and says so
    r = run_cli("predict", "--ladder", tmp_path / "few.csv", "--n", "7B", "--tokens", "4T", "--task", "piqa",
                "--paper", "--json")
    assert r.returncode == 0, r.stderr
    (note,) = json.loads(r.stdout)["notes"]
    assert note.startswith("task 'piqa': 8 of the ladder's 16 runs have no piqa results (190M-1xC, 190M-2xC, "
                           "190M-5xC, 190M-10xC and 4 more)")


def test_variance_takes_a_tasks_largest_run_when_it_lacks_the_ladders(holes):
    var = variance(Ladder(holes), ["mmlu", "piqa"])
    assert var["run"].tolist() == ["1B-10xC", "1B-5xC"]
    assert variance_runs(var) == "1B-10xC (piqa: 1B-5xC)"
    full = variance(Ladder(olmo2_ladder().ladder), ["mmlu"], run="1B-10xC")
    assert var.iloc[0]["loss_sd"] == full.iloc[0]["loss_sd"]  # MMLU's row as before


def test_the_automatic_prediction_of_a_task_missing_a_held_out_run(holes, tmp_path):
    # it ended in a KeyError traceback ('1B-10xC') from a backtest worker
    holes.to_csv(tmp_path / "holes.csv", index=False)
    r = run_cli("predict", "--ladder", tmp_path / "holes.csv", "--n", "7B", "--tokens", "4T", "--task", "piqa",
                "--json")
    assert r.returncode == 0, r.stderr
    (p,) = json.loads(r.stdout)["predictions"]
    assert 0.75 < p["lower"] < p["predicted"] < p["upper"] < 0.9


def test_a_ladder_at_one_tokens_per_parameter_warns_when_the_target_is_not():
    # 10 sizes, all at 20 tokens per parameter: N and D are collinear over the ladder, so
    # the split of the loss between the N and D terms is arbitrary.  Predicting 7B-4T (571
    # tokens per parameter) from it, the paper's chain says 81.8 against a truth of 70.1.
    from taskladder.predictor import LadderSpan, ratio_note
    from taskladder.simulate import synthetic_ladder

    lad = synthetic_ladder(sizes=(20e6, 35e6, 60e6, 100e6, 170e6, 300e6, 500e6, 800e6, 1.3e9, 2e9), multiples=(1,))
    from taskladder.chain import ladder_span

    span = ladder_span(lad)
    assert span.tpp_min == pytest.approx(20, rel=1e-3) and span.tpp_max == pytest.approx(20, rel=1e-3)

    class T:
        name, n = "t", 7e9

        def __init__(self, d):
            self.d = d

    assert "every ladder run trains on 20 tokens per parameter and t on 571" in ratio_note(span, T(4e12))
    assert ratio_note(span, T(7e9 * 25)) is None  # at about the ladder's ratio: nothing to split
    # the paper's ladder (20-200 tokens per parameter) never warns
    paper = ladder_span(olmo2_ladder().ladder)
    assert paper.tpp_max / paper.tpp_min > 5 and ratio_note(paper, T(4e12)) is None
    assert ratio_note(LadderSpan(1e8, 1e9), T(4e12)) is None  # a span without the range (older cache)


def test_a_task_whose_accuracy_is_flat_over_the_ladder_is_named(tmp_path):
    # MMLU scored at chance on every rung (as the MC format is on ladder-sized models): every
    # pipeline predicts ~25% for 7B-4T, whose real score is 49%; the ladder cannot know, and says so
    import numpy as np

    from taskladder.chain import ladder_span
    from taskladder.predictor import FLAT_SPREAD, LadderSpan, flat_note

    lad = olmo2_ladder().ladder
    flat = lad[lad["task"].isin(["mmlu", "piqa"])].copy()
    acc = (flat["task"] == "mmlu") & (flat["metric"] == "acc")
    flat.loc[acc, "value"] = 0.25 + np.random.default_rng(0).normal(0, 0.005, acc.sum())
    flat.to_csv(tmp_path / "flat.csv", index=False)
    r = run_cli("predict", "--ladder", tmp_path / "flat.csv", "--n", "7B", "--tokens", "4T", "--paper", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {p["task"]: round(p["predicted"], 2) for p in out["predictions"]}["mmlu"] == 0.25
    (note,) = out["notes"]
    assert note.startswith("task 'mmlu': its accuracy hardly moves over the ladder (24.")
    # the bundled ladder's narrowest task, MMLU, spans 26.9-36.0%: no task is flat there
    span = ladder_span(lad)
    ranges = {t: (lo, hi) for t, lo, hi, _ in span.acc_range}
    assert ranges["mmlu"] == pytest.approx((0.2694, 0.3598), abs=1e-4) and len(ranges) == 10
    assert all(flat_note(span, t) is None for t in ranges)
    # the spread is judged against the task's checkpoint noise when that is larger than FLAT_SPREAD
    assert flat_note(LadderSpan(1, 1, acc_range=(("x", 0.50, 0.50 + FLAT_SPREAD * 0.9, 0.001),)), "x")
    assert flat_note(LadderSpan(1, 1, acc_range=(("x", 0.50, 0.50 + FLAT_SPREAD * 1.1, 0.001),)), "x") is None
    assert flat_note(LadderSpan(1, 1, acc_range=(("x", 0.50, 0.58, 0.02),)), "x")  # 8 points, noise SD 2
    assert flat_note(LadderSpan(1, 1), "x") is None  # a span without the ranges (older cache)


def test_calibration_skips_a_task_with_too_few_runs_on_every_split_and_says_so():
    from taskladder.calibration import auto_splits, rolling_auto
    from taskladder.errors import InputWarning

    lad = olmo2_ladder().ladder
    no190 = lad[~((lad["task"] == "piqa") & lad["run"].str.startswith("190M-"))]
    assert len(auto_splits(no190)) == 3  # each trains on 12 runs, 8 of them with PIQA: none is replayed
    calls = []
    with pytest.warns(InputWarning, match=r"not replayed on any split \(piqa\): every split leaves it fewer than 10"):
        rolled = rolling_auto(no190, ["piqa"], progress=lambda share=1.0: calls.append(share))
    assert rolled.empty and calls == [1.0, 1.0, 1.0]  # the bar still reaches its end


def test_a_run_ending_short_of_its_names_tokens_is_named():
    # a ladder read while its largest run still trains: 1B-10xC cut at 60% of its steps.  Its
    # last checkpoint is not annealed, and the paper's chain then misses 7B-4T by 4.72 points
    # on average instead of 3.82
    from taskladder.chain import ladder_span
    from taskladder.predictor import LadderSpan, short_note

    lad = olmo2_ladder().ladder
    assert ladder_span(lad).short == () and short_note(ladder_span(lad)) is None  # every run 1.000-1.0015x its name
    one = lad["run"] == "1B-10xC"
    cut = lad[~(one & (lad["step"] > 0.6 * lad.loc[one, "step"].max()))]
    ((run, got, mult),) = ladder_span(cut).short
    d = cut.loc[cut["run"] == run, "d"].max()
    assert (run, mult) == ("1B-10xC", 10.0) and got == pytest.approx(d / (20 * 1_279_395_840), rel=1e-12)
    assert 5.9 < got < 6.1
    assert short_note(ladder_span(cut)).startswith(
        "run 1B-10xC (6xC) ends short of the tokens its name says: a run still training has no annealed final "
        "checkpoint")
    # within 10% of its name's tokens a run is not named (SHORT_OF_NAME); several are named together
    for frac, named in ((0.95, False), (0.85, True)):
        part = lad[~(one & (lad["step"] > frac * lad.loc[one, "step"].max()))]
        assert bool(ladder_span(part).short) is named
    two = LadderSpan(1, 1, short=(("a-10xC", 6.0, 10.0), ("b-5xC", 2.5, 5.0)))
    assert short_note(two).startswith("runs a-10xC (6xC), b-5xC (2.5xC) end short of the tokens their names say")


def test_results_ending_before_a_runs_last_checkpoint_are_named():
    # a task whose final evaluation failed on some runs (or was added after them): step 1 takes
    # an earlier, not annealed checkpoint as final.  Cutting PIQA at 60% of 1B-10xC, 1B-5xC and
    # 760M-10xC lowers the paper chain's 7B-4T prediction by 1.3 points (81.2 -> 79.9), with no other sign
    from taskladder.chain import ladder_span
    from taskladder.predictor import c4_early_note, early_note, prediction_notes

    lad = olmo2_ladder().ladder
    assert ladder_span(lad).early == () and ladder_span(lad).c4_early == ()  # every series reaches its run's end

    def cut(frame, run, task, frac, metric=None):
        rows = (frame["run"] == run) & (frame["task"] == task)
        if metric:
            rows &= frame["metric"] == metric
        return frame[~(rows & (frame["step"] > frac * frame.loc[rows, "step"].max()))]

    part = cut(cut(lad, "1B-10xC", "piqa", 0.6), "1B-5xC", "piqa", 0.8, "acc")
    span = ladder_span(part)
    ((task, runs),) = span.early
    final = part.loc[part["run"] == "1B-10xC", "d"].max()
    last = part.loc[(part["run"] == "1B-10xC") & (part["task"] == "piqa"), "d"].max()
    assert task == "piqa" and [(r, ms) for r, _, ms in runs] == [("1B-5xC", ("acc",)), ("1B-10xC", ())]
    assert runs[1][1] == pytest.approx(last / final, rel=1e-12) and 0.55 < runs[1][1] < 0.65
    assert early_note(span, "piqa") == (
        "task 'piqa': scored only up to 80% of 1B-5xC's tokens (acc), 60% of 1B-10xC's tokens: the fits take "
        "that earlier, not annealed checkpoint as the run's final one; score their final checkpoints on piqa")
    assert early_note(span, "mmlu") is None
    # within 10% of the run's end (a task scored less often than others) nothing is said
    assert ladder_span(cut(lad, "1B-10xC", "piqa", 0.95)).early == ()
    # the C4 loss, every task's c4 feature, likewise
    c4 = ladder_span(cut(lad, "760M-2xC", "c4_en", 0.5))
    assert [r for r, _ in c4.c4_early] == ["760M-2xC"] and c4.early == ()
    assert c4_early_note(c4).startswith("C4 loss logged only up to 4") and "of 760M-2xC's tokens" in c4_early_note(c4)
    assert prediction_notes(c4, [], ["piqa"]) == [c4_early_note(c4)]


def test_forecast_says_what_the_ladder_lacks():
    from taskladder.errors import InputWarning
    from taskladder.forecast import forecast, target_log

    lad = olmo2_ladder().ladder
    one = lad["run"] == "1B-10xC"
    cut = lad[~(one & (lad["step"] > 0.6 * lad.loc[one, "step"].max()))
              & ~((lad["task"] == "piqa") & lad["run"].str.startswith("190M-"))]
    late = (cut["task"] == "piqa") & (cut["run"] == "760M-10xC")
    cut = cut[~(late & (cut["step"] > 0.5 * cut.loc[late, "step"].max()))]
    log, n, name = target_log("7B-4T")
    with pytest.warns(InputWarning) as got:
        forecast(cut, log, n, upto=0.5, tasks=["piqa"], name=name)
    said = [str(w.message) for w in got if issubclass(w.category, InputWarning)]
    assert said[0].startswith("run 1B-10xC (6xC) ends short of the tokens its name says")
    assert said[1].startswith("task 'piqa': 4 of the ladder's 16 runs have no piqa results (190M-1xC,")
    assert said[2].startswith("task 'piqa': scored only up to 49% of 760M-10xC's tokens: the fits take")


def test_one_run_read_twice_under_two_names_is_named(tmp_path):
    # a run's own file beside a W&B export of the whole ladder: the same results under two names,
    # fitted as two runs (double weight in every fit), which no two trained runs give
    import pandas as pd

    from taskladder.chain import ladder_span
    from taskladder.predictor import duplicate_note

    lad = olmo2_ladder().ladder
    assert ladder_span(lad).duplicates == ()
    one = lad[lad["run"] == "370M-2xC"]
    twice = pd.concat([lad, one.assign(run="wandb_370M-2xC"), one.iloc[::-1].assign(run="370M-2xC-copy")])
    span = ladder_span(twice)
    assert span.duplicates == (("370M-2xC", "370M-2xC-copy", "wandb_370M-2xC"),)  # row order does not matter
    assert duplicate_note(span).startswith("runs 370M-2xC and 370M-2xC-copy and wandb_370M-2xC hold identical "
                                           "results, as no two trained runs do")
    # one value apart is another run
    other = one.assign(run="370M-2xC-seed2", value=one["value"].where(one.index != one.index[3], 0.5))
    assert ladder_span(pd.concat([lad, other])).duplicates == ()
    twice.to_csv(tmp_path / "twice.csv", index=False)
    r = run_cli("data", "--ladder", tmp_path / "twice.csv", "--json")
    assert json.loads(r.stdout)["notes"][0].startswith("runs 370M-2xC and 370M-2xC-copy and wandb_370M-2xC")


def test_forecast_keeps_its_notes_in_json_and_under_its_table(tmp_path):
    lad = olmo2_ladder().ladder
    one = lad["run"] == "1B-10xC"
    lad[~(one & (lad["step"] > 0.6 * lad.loc[one, "step"].max()))].to_csv(tmp_path / "short.csv", index=False)
    args = ("forecast", "--ladder", tmp_path / "short.csv", "--target", "7B-4T", "--upto", "0.5", "--task", "piqa")
    r = run_cli(*args, "--json")
    assert r.returncode == 0, r.stderr
    note, final = json.loads(r.stdout)["notes"]
    assert note.startswith("run 1B-10xC (6xC) ends short of the tokens its name says") and "warning" not in r.stderr
    assert final.startswith("7B-4T: the forecast is for its log's last checkpoint")  # 7B-4T's own, below
    r = run_cli(*args)
    assert r.returncode == 0 and "warning: run 1B-10xC (6xC) ends short" in r.stdout


def test_calibration_measures_a_partial_tasks_distance_from_its_own_training_runs(holes):
    # PIQA lacks 190M-1xC: on the rolling origin that trains on 190M-760M, its held-out 1B runs
    # are as far beyond the 11 runs it trained on as its interval took them to be
    import numpy as np

    from taskladder.calibration import rolling_auto
    from taskladder.chain import run_table

    rolled = rolling_auto(holes, ["piqa"], levels=(0.9,))
    got = rolled[rolled["split"] == "origin 3"].set_index("run")["log_extrapolation"]
    runs = run_table(olmo2_ladder().ladder)
    logc = np.log(runs["n"].astype(float) * runs["d"].astype(float))
    trained = [r for r in logc.index if not r.startswith("1B-") and r != "190M-1xC"]
    assert sorted(got.index) == ["1B-1xC", "1B-2xC", "1B-5xC"]  # 1B-10xC has no PIQA to score
    assert np.allclose(got, logc[got.index] - logc[trained].mean(), rtol=0, atol=1e-12)


def test_runs_without_c4_loss_are_named():
    from taskladder.chain import ladder_span
    from taskladder.predictor import prediction_notes

    lad = olmo2_ladder().ladder
    assert ladder_span(lad).c4_gaps == ()
    no = lad[~((lad["task"] == "c4_en") & lad["run"].isin(["1B-10xC", "190M-2xC"]))]
    assert ladder_span(no).c4_gaps == ("190M-2xC", "1B-10xC")
    assert prediction_notes(ladder_span(no), [], ["mmlu"]) == [
        "2 of the ladder's 16 runs have no C4 loss (190M-2xC, 1B-10xC): every task's c4 pipeline is fitted and "
        "backtested on the others"]
    # a ladder without any C4 loss has no c4 pipeline to warn about
    assert ladder_span(lad[lad["task"] != "c4_en"]).c4_gaps == ()


def test_the_left_out_note_groups_pipelines_by_reason_and_tasks():
    from taskladder.predictor import left_out_notes

    def state(task, *left):
        return tuple(left)

    c4 = ("c4", "no C4 loss")
    assert left_out_notes({"mmlu": state("mmlu"), "piqa": state("piqa")}) == []
    assert left_out_notes({"mmlu": state("mmlu", c4), "piqa": state("piqa", c4)}) == [
        "every task: no C4 loss, so the automatic choice leaves out c4 and weighs the other pipelines"]
    got = left_out_notes({"mmlu": state("mmlu", c4), "piqa": state("piqa", ("task_bpb", "no 'bpb' values"),
                                                                  ("flops", "no 'bpb' values"), c4)})
    assert got == ["every task: no C4 loss, so the automatic choice leaves out c4 and weighs the other pipelines",
                   "task 'piqa': no 'bpb' values, so the automatic choice leaves out task_bpb and flops and weighs "
                   "the other pipelines"]


def test_a_task_without_bits_per_byte_says_which_pipelines_the_automatic_choice_left_out(tmp_path):
    """A W&B export of accuracies, or a team's own table, may have accuracy but no
    bits-per-byte: the automatic choice then weighs the pipelines that need none (single_step,
    acc_power, taskce, c4), and says so rather than silently dropping the paper's own."""
    lad = olmo2_ladder().ladder
    lad[~((lad["task"] == "piqa") & (lad["metric"] == "bpb"))].to_csv(tmp_path / "l.csv", index=False)
    got = run_cli("predict", "--ladder", str(tmp_path / "l.csv"), "--n", "7B", "--tokens", "4T", "--task", "piqa",
                  "--json")
    out = json.loads(got.stdout)
    assert out["notes"] == ["task 'piqa': no 'bpb' values, so the automatic choice leaves out task_bpb and flops "
                            "and weighs the other pipelines"]
    assert sorted(w["design"] for w in out["weights"]) == ["acc_power", "c4", "single_step", "taskce"]
    # `data` says it before any fit, from the ladder alone
    from taskladder.describe import describe

    assert describe(tmp_path / "l.csv").notes == out["notes"]
    # and backtest, whose table shows those pipelines blank
    from taskladder.chain import ladder_notes

    assert ladder_notes(lad[~((lad["task"] == "piqa") & (lad["metric"] == "bpb"))], ["piqa", "mmlu"]) == out["notes"]
    # and the report, which then fits the paper's chain on the other tasks
    from taskladder.report import build

    two = lad[lad["task"].isin(["piqa", "mmlu", "c4_en"]) & ~((lad["task"] == "piqa") & (lad["metric"] == "bpb"))]
    html = build(two, [bundled_targets()["7B-4T"]], ["mmlu", "piqa"], [])
    assert "Not in the chain (no bits-per-byte values): PIQA; see the automatic prediction." in html
    assert "task &#x27;piqa&#x27;: no &#x27;bpb&#x27; values, so the automatic choice leaves out task_bpb" in html
    # no task with bits-per-byte at all: no chain, the automatic prediction still there
    html = build(two[two["task"] != "mmlu"], [bundled_targets()["7B-4T"]], ["piqa"], ["piqa"])
    assert "Not shown: no task of this ladder has bits-per-byte values" in html
    assert "Automatic prediction with 90% intervals" in html and "Fitted laws" not in html
    # asked for by name, the paper's pipeline is an error naming the tasks that have the metric
    bad = run_cli("predict", "--ladder", str(tmp_path / "l.csv"), "--n", "7B", "--tokens", "4T", "--task", "piqa",
                  "--paper")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "no 'bpb' values for task 'piqa' (tasks with 'bpb' values: arc_challenge, arc_easy, boolq" in bad.stderr
    assert "openbookqa, socialiqa, winogrande)" in bad.stderr  # piqa itself not among them


def test_a_ladder_of_final_checkpoints_only_is_predicted_and_named(tmp_path):
    """A team that scored only its runs' last checkpoints: step 2 dropped the first 10% of each
    run's checkpoints, rounded up, so the one checkpoint of every run, and the paper's chain
    failed with "no checkpoints carry both bpb and acc".  A run's last is never dropped now."""
    from taskladder.chain import ladder_span

    lad = olmo2_ladder().ladder
    lad = lad[lad["task"].isin(["piqa", "mmlu", "c4_en"])]
    finals = lad[lad["step"] == lad.groupby("run")["step"].transform("max")]
    finals.to_csv(tmp_path / "f.csv", index=False)
    r = run_cli("predict", "--paper", "--ladder", tmp_path / "f.csv", "--target", "7B-4T", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    # step 2 on 16 points instead of ~1,400: still within 4 points of the actuals (here 3.9 and
    # 0.9; the whole ladder's 0.6 and 0.8)
    errors = {p["task"]: p["abs_error"] for p in out["predictions"]}
    assert sorted(errors) == ["mmlu", "piqa"] and max(errors.values()) < 4.0
    (note,) = out["notes"]
    assert note.startswith("no run has 3 checkpoints (a ladder evaluated only at its runs' ends?)")
    # a ladder with 3 checkpoints in some run is not named; a run's ends only elsewhere do not matter
    three = lad[lad["step"] >= lad.groupby("run")["step"].transform(lambda s: sorted(s.unique())[-3])]
    assert not ladder_span(three).finals_only and ladder_span(finals).finals_only
    # a forecast learns the schedule's lag from the runs' checkpoints: refused in one line
    r = run_cli("forecast", "--target", "7B-4T", "--upto", "0.5", "--ladder", tmp_path / "f.csv", "--task", "piqa")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no ladder run has 2 with task loss" in r.stderr
    # Table 4's SD over "the last 10 checkpoints" of one checkpoint is 0: the count measured is
    # given, and the report shows no table of zeros
    from taskladder.report import _variance

    assert variance(Ladder(finals), ["piqa"])["last_n"].tolist() == [1]
    assert variance(Ladder(three), ["piqa"])["last_n"].tolist() == [3]
    assert "Not shown: run 1B-10xC has 1 checkpoint(s) scored" in "".join(_variance(variance(Ladder(finals),
                                                                                         ["piqa"]), None))


def test_a_failed_fit_names_its_task_and_step(monkeypatch):
    """An error of one law's fit named the law only, not which of the tasks' fits failed."""
    import taskladder
    from taskladder.laws import LogSigmoid

    def fail(self, x, y):
        raise taskladder.TaskladderError("LogSigmoid: the fit failed from every starting point")

    monkeypatch.setattr(LogSigmoid, "fit", fail)
    # the fit itself, not a cached one: another test file's compare may have fitted this PIQA-only
    # ladder's TaskCE chain into the cache the xdist workers share
    monkeypatch.setenv("TASKLADDER_NO_CACHE", "1")
    lad = olmo2_ladder().ladder
    with pytest.raises(taskladder.TaskladderError, match=r"^task 'piqa': step 2 \(taskce -> accuracy\): "
                                                         r"LogSigmoid: the fit failed from every starting point$"):
        taskladder.predict(n=7e9, d=4e12, ladder=lad[lad["task"] == "piqa"], tasks="piqa", design="taskce")


def test_a_constant_accuracy_is_refused_at_once_by_the_log_sigmoid_and_predicted_by_the_others(tmp_path):
    """A model that always picks the same choice scores the same accuracy at every checkpoint.
    The log-sigmoid (TaskCE's step 2) rises to 1 by its form, and its fits searched for a constant
    one from every start for 347 s, on every backtest split of the automatic choice.  Now it
    refuses at once, naming the task; the sigmoid fits the constant as its flat tail."""
    import numpy as np
    import pandas as pd

    import taskladder
    from taskladder.trust import _assemble

    lad = olmo2_ladder().ladder
    lad = lad[lad["task"].isin(["piqa", "c4_en"])]
    const = lad.assign(value=np.where(lad["metric"] == "acc", 0.26, lad["value"]))
    with pytest.raises(taskladder.TaskladderError, match=r"^task 'piqa': step 2 \(taskce -> accuracy\): LogSigmoid: "
                                                         r"the accuracy is 0.26 at every point, which the log-sigmoid "
                                                         r"cannot fit"):
        taskladder.predict(n=7e9, d=4e12, ladder=const, tasks="piqa", design="taskce")
    for design in ("paper", "flops"):  # chance predicts chance
        with pytest.warns(taskladder.InputWarning, match=r"^task 'piqa': its accuracy hardly moves over the ladder "
                                                         r"\(26\.0-26\.0% at the runs' ends\)"):
            got = taskladder.predict(n=7e9, d=4e12, ladder=const, tasks="piqa", design=design)["predicted"].iloc[0]
        assert got == pytest.approx(0.26, abs=1e-4)
    const.to_csv(tmp_path / "c.csv", index=False)
    out = json.loads(run_cli("predict", "--ladder", tmp_path / "c.csv", "--n", "7B", "--tokens", "4T", "--json").stdout)
    (row,) = out["predictions"]
    assert row["predicted"] == pytest.approx(0.26, abs=0.01) and row["lower"] <= 0.26 <= row["upper"]
    assert "taskce" not in {w["design"] for w in out["weights"]}
    assert ("task 'piqa': step 2 (taskce -> accuracy): LogSigmoid: the accuracy is 0.26 at every point, which the "
            "log-sigmoid cannot fit (an evaluation that scores every question alike, e.g. a model that always picks "
            "the same choice?), so the automatic choice leaves out taskce and weighs the other pipelines") in out["notes"]
    assert any("hardly moves" in n for n in out["notes"])  # the flat task's own note
    # at 100% everywhere: 1, not 1 + 4e-11 refused as "outside [0, 1]"
    with pytest.warns(taskladder.InputWarning) as said:
        (one,) = taskladder.predict(n=7e9, d=4e12, ladder=const.assign(value=const["value"].where(
            const["metric"] != "acc", 1.0)), tasks="piqa").to_dict("records")
    assert sorted(str(w.message).split(",")[0] for w in said) == [
        "task 'piqa': its accuracy hardly moves over the ladder (100.0-100.0% at the runs' ends)",
        "task 'piqa': step 2 (taskce -> accuracy): LogSigmoid: the accuracy is 1 at every point"]
    assert one["predicted"] == pytest.approx(1.0, abs=1e-9) and one["predicted"] <= 1.0 and one["upper"] <= 1.0
    # no pipeline at all: why, per group of pipelines
    parts = {d: (pd.DataFrame(), None, "no 'bpb' values" if d in ("task_bpb", "flops") else "no C4 loss")
             for d in ("task_bpb", "flops", "c4")}
    with pytest.raises(taskladder.TaskladderError, match=r"^task 'piqa': no pipeline could be fitted on the ladder's "
                       r"backtest splits \(task_bpb, flops: no 'bpb' values; c4: no C4 loss\)$"):
        _assemble("piqa", ("task_bpb", "flops", "c4"), parts, 0.0)