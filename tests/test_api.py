"""taskladder.predict: the Python call equals the command line, on every kind of ladder."""

import json
import warnings

import pandas as pd
import pytest
from conftest import run_cli

import taskladder
from taskladder.datasets import olmo2_ladder
from taskladder.errors import InputWarning, TaskladderError


def test_paper_design_equals_figure_2_and_the_cli():
    p = taskladder.predict(targets=["7B-4T", "13B-5T"], tasks="mmlu,piqa", design="task_bpb")
    got = {(r.task, r.target): round(100 * r.predicted, 1) for r in p.itertuples()}
    assert got == {("mmlu", "7B-4T"): 48.4, ("mmlu", "13B-5T"): 51.3, ("piqa", "7B-4T"): 81.2,
                   ("piqa", "13B-5T"): 82.1}  # the paper's Figure 2
    cli = json.loads(run_cli("predict", "--target", "7B-4T", "--target", "13B-5T", "--task", "mmlu,piqa",
                             "--paper", "--json").stdout)["predictions"]
    assert [r["predicted"] for r in cli] == p["predicted"].tolist()
    # design="paper" is the CLI's --paper
    assert taskladder.predict(targets=["7B-4T", "13B-5T"], tasks="mmlu,piqa", design="paper").equals(p)


def test_automatic_choice_equals_the_cli_with_its_interval():
    p = taskladder.predict(n="7B", d=4e12, tasks=["piqa"])
    (row,) = p.to_dict("records")
    (cli,) = json.loads(run_cli("predict", "--n", "7B", "--tokens", "4T", "--task", "piqa", "--json").stdout)[
        "predictions"]
    for k in ("predicted", "lower", "upper", "sd", "level", "pipeline", "n", "d"):
        assert row[k] == cli[k], k
    assert row["lower"] < row["predicted"] < row["upper"] and row["target"] == "N=7e+09,D=4e+12"
    # N and D as numbers, not only in the label (3 digits): a sweep's rows plot against them
    assert (row["n"], row["d"]) == (7_000_000_000, 4_000_000_000_000)
    with pytest.warns(InputWarning, match=r"N=1.9e\+08,D=7.6e\+10 lies below the ladder"):  # 190e6 < 190.35M
        sweep = taskladder.predict(n=[190e6, 6.9e9], d="20xC", tasks=["piqa"], mean=False)
    assert sweep["n"].tolist() == [190_000_000, 6_900_000_000] and sweep["d"].tolist() == [76e9, 2.76e12]
    both = taskladder.predict(targets=["7B-4T"], tasks=["piqa", "mmlu"], mean=True)
    assert both["n"].nunique() == 1 and both.loc[both["task"] == "mean", "n"].item() == both["n"].iloc[0]


def test_tokens_is_another_name_for_d_as_the_clis_tokens():
    p = taskladder.predict(n="7B", d="4T", tasks="piqa", design="paper")
    assert taskladder.predict(n="7B", tokens="4T", tasks="piqa", design="paper").equals(p)
    assert taskladder.plan_ladder("13B", tokens="5T").equals(taskladder.plan_ladder("13B", "5T"))
    assert taskladder.plan_ladder().equals(taskladder.plan_ladder(tokens="3945065873408"))  # 7B-4T by default
    assert not taskladder.plan_ladder(tokens="8T").equals(taskladder.plan_ladder())  # its share of the compute
    # the errors name the argument as it was given; both at once could disagree
    for call, message in [(lambda: taskladder.predict(n="7B", d="4T", tokens="4T"), "d and tokens name the same"),
                          (lambda: taskladder.predict(n=[7e9, 13e9], tokens=[4e12]), "n and tokens must have the same"),
                          (lambda: taskladder.predict(n="7B", tokens="-1"), "tokens: must be positive"),
                          (lambda: taskladder.compute_to_reach(0.5, n="7B", tokens="4T"), "n and tokens each fix"),
                          (lambda: taskladder.compare_ladders(None, None, n="7B", d="4T", tokens="4T"), "give one"),
                          (lambda: taskladder.forecast_target(target="7B-4T", d="4T", tokens="4T"),
                           "tokens and d name the same"),
                          (lambda: taskladder.forecast_target(target="7B-4T", d="-4T"), "d: must be positive")]:
        with pytest.raises(TaskladderError, match=message):
            call()


def test_a_dataframe_ladder_equals_its_file_and_is_read_afresh(tmp_path):
    lad = olmo2_ladder().ladder
    lad = lad[lad["task"].isin(["mmlu", "piqa"])].reset_index(drop=True)
    lad.to_csv(tmp_path / "l.csv", index=False)
    kw = dict(n=[7e9, 13e9], d=["4T", "5T"], design="task_bpb")
    from_frame = taskladder.predict(ladder=lad, **kw)
    from_file = taskladder.predict(ladder=tmp_path / "l.csv", **kw)
    assert from_frame["predicted"].tolist() == pytest.approx(from_file["predicted"].tolist(), abs=1e-9)
    assert from_frame["task"].tolist() == ["mmlu", "mmlu", "piqa", "piqa"]
    # changed in place (as a notebook does): a new answer and the flat-task warning, not the cached one
    acc = (lad["task"] == "mmlu") & (lad["metric"] == "acc")
    lad.loc[acc, "value"] = 0.25
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = taskladder.predict(ladder=lad, **kw)
    assert again["predicted"].iloc[0] == pytest.approx(0.25, abs=0.005) != from_frame["predicted"].iloc[0]
    assert any(issubclass(w.category, InputWarning) and "hardly moves" in str(w.message) for w in caught)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=7e9), "needs both n"),
    (dict(n=[7e9, 13e9], d=[4e12]), "same length, got 2 and 1"),
    (dict(n=-1, d=4e12), "n: must be positive"),
    (dict(n=7e9, d=4e12, tasks="nope", design="task_bpb"), "task 'nope' is not in the ladder"),
    (dict(n=7e9, d=4e12, level=1.5), "level must be a fraction between 0 and 1 or a percentage"),
    (dict(n=7e9, d=4e12, level=0.8, design="task_bpb"), "design 'task_bpb' gives none"),
    (dict(), "no target"),
    (dict(n=[], d=[]), "n: an empty sequence names no target"),
    (dict(flops=[], n="7B"), "flops: an empty sequence names no target"),
    (dict(n="7B", d="4T", ladder="/nonexistent"), "/nonexistent: no such file or folder"),
    (dict(n="7B", d="4T", ladder=3), "ladder: a path, a list of paths or a tidy DataFrame, got int 3"),
    (dict(n="7B", d="4T", ladder=[olmo2_ladder().ladder]), "got a DataFrame in a list \\(concatenate the frames"),
    (dict(n="7B", d="4T", tasks=["mmlu", 3]), "tasks: names \\(strings\\), got 3"),
])
def test_bad_arguments_raise_one_clear_error(kwargs, message):
    with pytest.raises(taskladder.TaskladderError, match=message):
        taskladder.predict(**kwargs)


def test_a_bad_dataframe_is_named():
    lad = olmo2_ladder().ladder.drop(columns=["value"])
    with pytest.raises(taskladder.TaskladderError, match="DataFrame: missing column 'value'"):
        taskladder.predict(n=7e9, d=4e12, ladder=lad)


def test_a_bad_cell_of_a_dataframe_is_named_by_its_index_label():
    """A notebook shows a frame's index, not a file's line numbers: the label of the bad row."""
    lad = olmo2_ladder().ladder
    lad = lad[lad["task"] == "piqa"].copy()  # index labels kept, not 0..n-1
    label = lad.index[lad["metric"].eq("acc")][3]
    for col, value, message in (("value", 1.7, "is out of range"), ("value", "x", "is not a finite number"),
                                ("n", -5, "must be positive"), ("run", " ", "empty")):
        bad = lad.astype({col: object}).copy()
        bad.loc[label, col] = value
        with pytest.raises(taskladder.TaskladderError, match=rf"DataFrame: column '{col}' index {label}: .*{message}"):
            taskladder.predict(n=7e9, d=4e12, ladder=bad, design="paper")


def test_one_value_beside_a_sequence_is_shared_by_every_target():
    swept = taskladder.predict(["3B", 7e9], "4T", tasks="piqa", design="task_bpb")
    each = [taskladder.predict(n, 4e12, tasks="piqa", design="task_bpb") for n in (3e9, 7e9)]
    assert swept["predicted"].tolist() == [e["predicted"].iloc[0] for e in each]
    assert swept["target"].tolist() == ["N=3e+09,D=4e+12", "N=7e+09,D=4e+12"]
    assert taskladder.predict(7e9, [1e12, 4e12], tasks="piqa", design="task_bpb")["d"].tolist() == [1e12, 4e12]


def test_forecast_target_equals_the_cli_for_a_bundled_replay_a_file_and_a_dataframe(tmp_path):
    with pytest.warns(InputWarning) as said:
        got = taskladder.forecast_target(target="7B-4T", upto=0.5, tasks="mmlu,piqa")
    cli = json.loads(run_cli("forecast", "--target", "7B-4T", "--upto", "0.5", "--task", "mmlu,piqa", "--json").stdout)
    assert [str(w.message) for w in said] == cli["notes"]  # the notes, as warnings
    for k in ("predicted", "lower", "upper", "actual", "predicted_loss"):
        assert got[k].tolist() == [r[k] for r in cli["forecasts"]], k
    # the 13B log as a user's file (N given, the run's planned end '5T' rounded below its last
    # checkpoint at 5.00009T), and the same log as a DataFrame in memory
    log = olmo2_ladder().targets["13B-5T"].full
    log[log["step"] <= log["step"].max() / 2].drop(columns="n").to_csv(tmp_path / "13b.csv", index=False)
    a = taskladder.forecast_target(tmp_path / "13b.csv", n="13.2B", tokens="5T", tasks=["ARC-Challenge"])
    b = taskladder.forecast_target(pd.read_csv(tmp_path / "13b.csv"), n=13.2e9, tokens=5e12,
                                   tasks="arc_challenge")
    c = json.loads(run_cli("forecast", "--target-file", tmp_path / "13b.csv", "--n", "13.2B", "--tokens", "5T",
                           "--task", "arc_challenge", "--json").stdout)["forecasts"]
    assert a["task"].tolist() == ["arc_challenge"] and a["tokens"].iloc[0] == 5e12
    assert a["predicted"].tolist() == b["predicted"].tolist() == [c[0]["predicted"]]
    # the full log, forecast at '5T': its last checkpoint, as without tokens
    full = taskladder.forecast_target(target="13B-5T", tokens="5T", tasks="piqa")
    assert full["tokens"].iloc[0] == log["d"].max() > 5e12
    assert full["predicted"].tolist() == taskladder.forecast_target(target="13B-5T", tasks="piqa")["predicted"].tolist()
    with pytest.raises(taskladder.TaskladderError, match="before the log's last checkpoint"):
        taskladder.forecast_target(target="13B-5T", tokens="4.9T", tasks="piqa")
    assert "forecast_target" in dir(taskladder) and "predict" in dir(taskladder)
    # arguments as a notebook may pass them: a list of one name, numbers as strings
    same = taskladder.forecast_target(target=["13B-5T"], tokens="5T", tasks="piqa", level="0.9", upto="1")
    assert same["predicted"].tolist() == full["predicted"].tolist()
    for kw, message in ((dict(target=["7B-4T", "13B-5T"]), "forecast one at a time"),
                        (dict(target="7B-4T", upto="half"), "upto must be a number, got 'half'"),
                        (dict(target="7B-4T", level="high"), "level must be a number, got 'high'")):
        with pytest.raises(taskladder.TaskladderError, match=message):
            taskladder.forecast_target(**kw)
    for kw, message in ((dict(holdout=2.5), "whole number of runs, at least 1, got 2.5"),
                        (dict(holdout=0), "at least 1, got 0")):
        with pytest.raises(taskladder.TaskladderError, match=message):
            taskladder.backtest(**kw)


def test_a_budget_completes_n_or_d_as_the_cli_does():
    a = taskladder.predict(flops=[1.2e22, 1.2e24], d="1xC", design="paper", tasks="mmlu")
    assert a["target"].tolist() == ["N=1e+10,D=2e+11", "N=1e+11,D=2e+12"]
    b = taskladder.predict(n=[1e10, 1e11], d=[2e11, 2e12], design="paper", tasks="mmlu")
    assert a["predicted"].tolist() == b["predicted"].tolist()
    c = taskladder.predict(flops=1.68e23, n="7B", design="paper", tasks="mmlu")
    assert c["target"].tolist() == ["N=7e+09,D=4e+12"]
    with pytest.raises(taskladder.TaskladderError, match="one of --n or --tokens"):
        taskladder.predict(flops=1e23, design="paper")


def test_bundled_targets_at_other_tokens_as_the_cli():
    with pytest.warns(InputWarning, match="no actual for it"):
        p = taskladder.predict(targets=["7B-4T", "13B-5T"], d=["8T", "1xC"], design="paper", tasks="mmlu")
    assert p["target"].tolist() == ["7B-4T@8e+12", "7B-4T@1.38e+11", "13B-5T@8e+12", "13B-5T@2.64e+11"]
    cli = json.loads(run_cli("predict", "--target", "7B-4T", "--target", "13B-5T", "--tokens", "8T,1xC", "--paper",
                             "--task", "mmlu", "--json").stdout)["predictions"]
    assert [(r["target"], r["predicted"]) for r in cli] == list(zip(p["target"], p["predicted"]))
    assert p["actual"].isna().all()
    # one name, or several comma-separated, as tasks="mmlu,piqa": not the string's characters
    both = taskladder.predict(targets="7B-4T, 13B-5T", design="paper", tasks="mmlu")
    assert both.equals(taskladder.predict(targets=["7B-4T", "13B-5T"], design="paper", tasks="mmlu"))
    assert taskladder.predict(targets="7B-4T", design="paper", tasks="mmlu")["target"].tolist() == ["7B-4T"]


def test_compare_ladders_finds_a_known_shift_from_files_or_dataframes_as_the_cli(tmp_path):
    from conftest import piqa_shifted_files

    base, cand = (pd.read_csv(p) for p in piqa_shifted_files(tmp_path))  # cand: PIQA 2 points higher
    no_c4 = r"^both ladders: task 'piqa': no C4 loss, so the automatic choice leaves out c4"
    with pytest.warns(InputWarning, match=no_c4):
        files = taskladder.compare_ladders(tmp_path / "base.csv", tmp_path / "cand.csv", targets=["7B-4T"],
                                           tasks="PIQA")
    with pytest.warns(InputWarning, match=no_c4):
        frames = taskladder.compare_ladders(base, cand, n="6887575552", d="3945065873408", tasks=["piqa"])
    (row,) = files.to_dict("records")
    assert row["task"] == "piqa" and 0.017 < row["difference"] < 0.0201 and row["lower"] > 0.01
    assert frames["difference"].tolist() == files["difference"].tolist()
    cli = json.loads(run_cli("compare", tmp_path / "base.csv", tmp_path / "cand.csv", "--target", "7B-4T",
                             "--json").stdout)["comparisons"]
    assert [(r["difference"], r["lower"], r["upper"]) for r in cli] == [(row["difference"], row["lower"], row["upper"])]
    with pytest.raises(taskladder.TaskladderError, match="the baseline: 4 runs"):
        taskladder.compare_ladders(base[base["run"].str.startswith("1B")], cand, targets=["7B-4T"])


def test_read_ladder_is_what_export_writes(tmp_path):
    lad = olmo2_ladder().ladder
    lad = lad[lad["task"] == "piqa"].reset_index(drop=True)
    lad.to_csv(tmp_path / "l.csv", index=False)
    got = taskladder.read_ladder(tmp_path / "l.csv")
    assert run_cli("export", "--ladder", tmp_path / "l.csv", "--out", tmp_path / "e.csv").returncode == 0
    exported = pd.read_csv(tmp_path / "e.csv")
    cols = ["run", "step", "task", "metric", "value", "n", "d"]
    assert got[cols].reset_index(drop=True).equals(exported[cols]) and len(got) == len(lad)
    # a DataFrame is checked as its file is read; none is the bundled table
    assert taskladder.read_ladder(lad)[cols].equals(got[cols].reset_index(drop=True))
    assert taskladder.read_ladder().equals(olmo2_ladder().ladder)
    with pytest.raises(taskladder.TaskladderError, match="DataFrame: missing column 'value'"):
        taskladder.read_ladder(lad.drop(columns="value"))


def test_backtest_and_its_calibration_equal_the_cli():
    bt = taskladder.backtest(tasks="PIQA")
    cli = json.loads(run_cli("backtest", "--task", "piqa", "--json").stdout)["runs"]
    assert set(bt["design"]) >= {"task_bpb", "c4"} and set(bt["task"]) == {"piqa"}
    assert bt["predicted"].tolist() == [r["predicted"] for r in cli]
    assert bt["abs_error"].tolist() == pytest.approx([r["abs_error"] for r in cli], abs=0)
    cal = taskladder.backtest(tasks="piqa", calibration=True)
    cli = json.loads(run_cli("backtest", "--calibration", "--task", "piqa", "--json").stdout)["calibration"]
    assert cal["coverage"].tolist() == [r["coverage"] for r in cli] and set(cal["level"]) == {0.5, 0.8, 0.9, 0.95}
    with pytest.raises(taskladder.TaskladderError, match="holdout must be a whole number of runs, at least 1"):
        taskladder.backtest(holdout=0)


def test_describe_ladder_is_what_data_prints(tmp_path):
    import numpy as np

    d = taskladder.describe_ladder()
    cli = json.loads(run_cli("data", "--json").stdout)
    assert d.to_dict() == {k: v for k, v in cli.items() if k not in ("targets", "provenance")}
    assert len(d.runs) == 16 and d.runs["n"].min() == 190_354_176 and d.supports.startswith("every command")
    # a ladder still training, in memory: 1B-10xC cut at 60% of its steps is short of 10xC, and said so
    lad = olmo2_ladder().ladder
    cut = lad[(lad["run"] != "1B-10xC") | (lad["step"] <= 0.6 * lad.loc[lad["run"] == "1B-10xC", "step"].max())]
    cut.to_csv(tmp_path / "cut.csv", index=False)
    mem, files = taskladder.describe_ladder(cut.reset_index(drop=True)), taskladder.describe_ladder(tmp_path / "cut.csv")
    row = mem.runs.set_index("run").loc["1B-10xC"]
    assert bool(row["short"]) and row["planned"] == 10 and 5.9 < row["multiple"] < 6.1
    assert any("1B-10xC" in n for n in mem.notes)
    assert mem.to_dict() == files.to_dict() and np.isfinite(mem.tasks["acc_low"]).all()


def test_compare_ladders_says_nothing_of_actuals_it_does_not_show():
    # a bundled target at other tokens: predict notes where its actual was taken; a comparison
    # shows none, so (as the CLI's compare) it says nothing of them
    b = olmo2_ladder().ladder
    b = b[b["task"].isin(["piqa", "c4_en"])]
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        got = taskladder.compare_ladders(b, b, targets="7B-4T", d=["8T", "4T"], tasks="piqa")
    assert got["target"].tolist() == ["7B-4T@8e+12", "7B-4T@4e+12"] and (got["difference"] == 0).all()
    with pytest.warns(InputWarning, match=r"^7B-4T: its actual is its last checkpoints at 3\.945e\+12 tokens, 1\.4% "
                                          r"before the prediction's 4e\+12"):
        taskladder.predict(targets="7B-4T", d="4T", tasks="piqa", design="paper", ladder=b)


def test_plan_ladder_is_what_plan_writes_and_warns_as_it_does(tmp_path):
    paper = taskladder.plan_ladder()  # 7B-4T: the paper's ladder
    obj = json.loads(run_cli("plan", "--json").stdout)
    assert paper.to_dict("records") == obj["rungs"]
    assert paper["name"].tolist()[:2] == ["190M-1xC", "190M-2xC"] and len(paper) == 16
    lad = olmo2_ladder().ladder
    lad[lad["run"] != "1B-1xC"].to_csv(tmp_path / "now.csv", index=False)
    args = ["--n", "1B", "--tokens", "2xC", "--sizes", "190M,1B", "--multiples", "1,2"]
    cli = json.loads(run_cli("plan", *args, "--ladder", tmp_path / "now.csv", "--json").stdout)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        got = taskladder.plan_ladder("1B", "2xC", sizes=["190M", "1B"], multiples=[1, 2], ladder=tmp_path / "now.csv",
                                     figure=tmp_path / "plan.png")
    assert [str(x.message) for x in w if x.category is InputWarning] == cli["notes"] and len(cli["notes"]) == 3
    assert got[list(cli["rungs"][0])].to_dict("records") == cli["rungs"]
    assert got["status"].tolist() == [p["status"] for p in cli["progress"]] == ["done", "done", "not started", "done"]
    assert got["reached_tokens"].tolist() == [p["tokens"] for p in cli["progress"]]
    assert (tmp_path / "plan.png").read_bytes()[:4] == b"\x89PNG"
    with warnings.catch_warnings():  # a DataFrame in memory, as the file
        warnings.simplefilter("ignore", InputWarning)
        frame = taskladder.plan_ladder("1B", "2xC", sizes="190M,1B", multiples=[1, 2], ladder=lad[lad["run"] != "1B-1xC"])
    assert frame.equals(got)
