"""taskladder.describe and `taskladder data`: a ladder's runs, tasks and notes, before any fit."""

import json

import pandas as pd
import pytest
from conftest import DATA, imported, probe_cli, run_cli

from taskladder.datasets import olmo2_ladder
from taskladder.describe import describe


def test_the_bundled_ladder_described():
    d = describe(olmo2_ladder().ladder)
    assert list(d.runs["run"][:4]) == ["190M-1xC", "190M-2xC", "190M-5xC", "190M-10xC"] and len(d.runs) == 16
    # every run reaches 1.000-1.0015 of the multiple its name plans (docs/ingest.md)
    assert ((d.runs["multiple"] / d.runs["planned"]).between(1.0, 1.0015)).all()
    one = d.runs.set_index("run").loc["1B-10xC"]
    assert one["n"] == 1_279_395_840 and one["multiple"] == pytest.approx(one["d"] / (20 * one["n"]))
    assert one["checkpoints"] == 163 and (d.runs["tasks"] == 10).all()
    assert len(d.tasks) == 10 and (d.tasks["runs"] == 16).all()
    mmlu = d.tasks.set_index("task").loc["mmlu"]
    assert mmlu["metrics"] == "acc, bpb, taskce"
    assert (round(100 * mmlu["acc_low"], 1), round(100 * mmlu["acc_high"], 1)) == (26.9, 36.0)  # docs/ingest.md
    assert d.notes == [] and d.convention == "olmo" and d.supports.startswith("every command")


def test_a_ladder_read_mid_training_says_what_it_cannot_tell(tmp_path):
    lad = olmo2_ladder().ladder
    big = lad["run"] == "1B-10xC"
    short = lad[~(big & (lad["step"] > 0.6 * lad.loc[big, "step"].max()))
                & ~((lad["task"] == "piqa") & (lad["run"] == "190M-1xC"))]
    short.to_csv(tmp_path / "short.csv", index=False)
    from_path = describe(str(tmp_path / "short.csv"))  # from Python, a path as --ladder takes it
    assert from_path.notes == describe(short).notes and len(from_path.runs) == 16
    r = run_cli("data", "--ladder", tmp_path / "short.csv", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    one = next(x for x in obj["runs"] if x["run"] == "1B-10xC")
    assert one["planned"] == 10 and 5.9 < one["multiple"] < 6.1
    assert next(x for x in obj["tasks"] if x["task"] == "piqa")["runs"] == 15
    assert [x[:30] for x in obj["notes"]] == ["run 1B-10xC (6xC) ends short o", "task 'piqa': 1 of the ladder's"]
    assert "targets" not in obj
    r = run_cli("data", "--ladder", tmp_path / "short.csv")
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and max(map(len, lines)) <= 80
    assert any("1B-10xC" in x and " 5.96/10 " in x for x in lines)  # reached/planned
    assert "warning: run 1B-10xC (6xC) ends short" in r.stdout
    # too few runs for the automatic choice: said before anyone waits for a fit
    lad[lad["run"].str.startswith(("190M", "370M"))].to_csv(tmp_path / "eight.csv", index=False)
    r = run_cli("data", "--ladder", tmp_path / "eight.csv", "--json")
    assert json.loads(r.stdout)["supports"].startswith("fixed pipelines only (--paper, --design)")


def test_data_out_writes_the_description_and_every_runs_curves(tmp_path):
    lad = olmo2_ladder().ladder
    lad = lad[lad["metric"] != "bpb"]  # a ladder without task loss draws only its accuracy
    lad.to_csv(tmp_path / "l.csv", index=False)
    r = run_cli("data", "--ladder", tmp_path / "l.csv", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert (f"wrote data.json, runs.parquet, runs.csv, tasks.parquet, tasks.csv and accuracy.png to "
            f"{tmp_path / 'out'}/") in " ".join(r.stdout.split())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "accuracy.png", "data.json", "runs.csv", "runs.parquet", "tasks.csv", "tasks.parquet"]
    obj = json.loads(run_cli("data", "--ladder", tmp_path / "l.csv", "--json").stdout)
    assert json.loads((tmp_path / "out" / "data.json").read_text()) == obj
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert runs["run"].tolist() == [x["run"] for x in obj["runs"]] and runs["d"].tolist() == [x["d"] for x in obj["runs"]]
    assert pd.read_csv(tmp_path / "out" / "tasks.csv")["task"].tolist() == [x["task"] for x in obj["tasks"]]


def test_the_curves_figure_draws_every_runs_checkpoints_per_task():
    import matplotlib.pyplot as plt
    import numpy as np

    from taskladder.plots import ladder_curves_figure

    lad = olmo2_ladder().ladder
    fig = ladder_curves_figure(lad, "acc")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels][:3] == ["MMLU", "HellaSwag", "ARC-Challenge"] and len(panels) == 10
    ax = panels[2]
    lines = {ln.get_label(): ln for ln in ax.lines}
    assert len(lines) == 16
    run = lad[(lad["run"] == "760M-5xC") & (lad["task"] == "arc_challenge") & (lad["metric"] == "acc")].sort_values("step")
    np.testing.assert_array_equal(lines["760M-5xC"].get_xdata(), run["d"].to_numpy(float))
    np.testing.assert_allclose(lines["760M-5xC"].get_ydata(), 100 * run["value"].to_numpy())
    assert lines["760M-5xC"].get_color() == lines["760M-1xC"].get_color() != lines["1B-5xC"].get_color()
    plt.close(fig)


def test_data_lists_the_bundled_targets_and_refuses_export_with_a_ladder(tmp_path):
    r = run_cli("data", "--json")
    obj = json.loads(r.stdout)
    assert [t["name"] for t in obj["targets"]] == ["7B-4T", "13B-5T"] and len(obj["runs"]) == 16
    r = run_cli("data", "--ladder", tmp_path / "x.csv", "--export", tmp_path / "y.csv")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "taskladder export --ladder" in r.stderr
    assert not (tmp_path / "y.csv").exists()


def test_progress_against_the_plan():
    from taskladder.planprogress import DONE_SHARE, plan_progress
    from taskladder.ladder import PlanConfig, plan

    rungs = plan(PlanConfig())  # the paper's ladder for 7B-4T, which the bundled runs trained
    lad = olmo2_ladder().ladder
    done, notes = plan_progress(rungs, lad)
    assert list(done["rung"]) == list(done["run"]) == [r.name for r in rungs] and notes == []
    assert (done["status"] == "done").all() and done["share"].between(1.0, 1.0015).all()
    # mid-training: 1B-10xC at 60% of its steps, 1B-1xC not started, a 190M run named for its
    # experiment (matched by N and multiple), a run outside the plan
    big = lad["run"] == "1B-10xC"
    now = lad[~(big & (lad["step"] > 0.6 * lad.loc[big, "step"].max())) & (lad["run"] != "1B-1xC")].copy()
    now.loc[now["run"] == "190M-5xC", "run"] = "mixB-190M-5xC"
    extra = lad[lad["run"] == "190M-1xC"].assign(run="190M-3xC")
    prog, notes = plan_progress(rungs, pd.concat([now, extra]))
    prog = prog.set_index("rung")
    assert prog.loc["1B-10xC", "status"] == "training" and 0.59 < prog.loc["1B-10xC", "share"] < 0.61
    assert prog.loc["1B-1xC", "status"] == "not started" and prog.loc["1B-1xC", "tokens"] == 0
    assert prog.loc["190M-5xC", "run"] == "mixB-190M-5xC" and prog.loc["190M-5xC", "status"] == "done"
    assert notes == ["1 of the ladder's runs match no rung of the plan (by size and Chinchilla multiple in the "
                     "name, or N within 2%): 190M-3xC"]
    assert DONE_SHARE * rungs[0].tokens < prog.loc["190M-1xC", "tokens"]
    assert prog.loc["1B-10xC", "flops"] == 6.0 * rungs[-1].n * prog.loc["1B-10xC", "tokens"]  # spent so far
    # 97% of the tokens is still training; of two seeds the one further along counts; a run whose name
    # has a rung's multiple but whose N is 10% off that size's is no rung's
    two = lad["run"] == "190M-2xC"
    runs = pd.concat([lad[lad["run"] != "370M-1xC"],
                      lad[lad["run"] == "370M-1xC"].assign(d=lambda x: (x["d"] * 0.97).round().astype("int64")),
                      lad[two & (lad["step"] <= lad.loc[two, "step"].median())].assign(run="190M-2xC-seed2"),
                      lad[two].assign(run="wide-2xC", n=lambda x: (x["n"] * 1.1).round().astype("int64"))])
    prog, notes = plan_progress(rungs, runs)
    prog = prog.set_index("rung")
    assert prog.loc["370M-1xC", "status"] == "training" and 0.96 < prog.loc["370M-1xC", "share"] < 0.98
    assert prog.loc["190M-2xC", "run"] == "190M-2xC" and prog.loc["190M-2xC", "status"] == "done"
    assert notes == ["1 of the ladder's runs match no rung of the plan (by size and Chinchilla multiple in the "
                     "name, or N within 2%): wide-2xC"]


def test_plan_with_a_ladder_prints_its_progress(tmp_path):
    lad = olmo2_ladder().ladder
    lad[lad["run"] != "1B-1xC"].to_csv(tmp_path / "now.csv", index=False)
    r = run_cli("plan", "--ladder", tmp_path / "now.csv")
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and max(map(len, lines)) <= 80, r.stderr
    assert any(x.startswith("│ 1B-1xC") and "not started" in x for x in lines)
    assert "15 of 16 rungs done, 0 training" in " ".join(r.stdout.split())
    obj = json.loads(run_cli("plan", "--ladder", tmp_path / "now.csv", "--json").stdout)
    assert [p["status"] for p in obj["progress"]].count("done") == 15 and len(obj["rungs"]) == 16
    # --out: the same JSON, a row per rung with its progress, and the figure
    r = run_cli("plan", "--ladder", tmp_path / "now.csv", "--out", tmp_path / "out")
    assert r.returncode == 0 and f"wrote plan.json, plan.parquet, plan.csv and plan.png to {tmp_path / 'out'}/" \
        in " ".join(r.stdout.split()), r.stderr
    assert json.loads((tmp_path / "out" / "plan.json").read_text()) == obj
    table = pd.read_parquet(tmp_path / "out" / "plan.parquet")
    assert table.equals(pd.read_csv(tmp_path / "out" / "plan.csv").astype(table.dtypes.to_dict()))
    assert table["name"].tolist() == [g["name"] for g in obj["rungs"]]
    assert table["tokens"].tolist() == [g["tokens"] for g in obj["rungs"]]
    assert table["flops"].tolist() == [g["flops"] for g in obj["rungs"]]
    row = table.set_index("name").loc["1B-1xC"]
    assert row["status"] == "not started" and row["reached_tokens"] == 0 and pd.isna(row["run"])
    done = table.set_index("name").loc["760M-5xC"]
    assert done["run"] == "760M-5xC" and done["reached_tokens"] == lad.loc[lad["run"] == "760M-5xC", "d"].max()
    assert (tmp_path / "out" / "plan.png").read_bytes()[:4] == b"\x89PNG"
    # without a ladder: the plan alone, no progress columns
    r = run_cli("plan", "--out", tmp_path / "alone", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == json.loads((tmp_path / "alone" / "plan.json").read_text())
    assert "status" not in pd.read_parquet(tmp_path / "alone" / "plan.parquet")


def test_a_plan_without_runs_reads_no_table(tmp_path):
    # the plan is the ladder rules alone: the readers and pandas load only with --ladder
    r = probe_cli(tmp_path, "plan")
    assert r.returncode == 0 and "Ladder plan for a target of N=6.89e+09" in r.stdout, r.stderr
    assert imported(r) == "[]"
    olmo2_ladder().ladder.to_csv(tmp_path / "runs.csv", index=False)
    r = probe_cli(tmp_path, "plan", "--ladder", tmp_path / "runs.csv")
    assert r.returncode == 0 and "16 of 16 rungs done" in " ".join(r.stdout.split()), r.stderr
    assert "pandas" in imported(r)


def test_checkpoints_a_task_was_not_scored_at_are_named(tmp_path):
    # PIQA's accuracy dropped at 3 middle checkpoints of 760M-2xC and 1 of 1B-5xC (an evaluation
    # job that failed there); its first and last checkpoints, and every other task, untouched
    lad = olmo2_ladder().ladder
    for run, k in (("1B-5xC", 1), ("760M-2xC", 3)):
        acc = (lad["run"] == run) & (lad["task"] == "piqa") & (lad["metric"] == "acc")
        steps = sorted(lad.loc[acc, "step"].unique())
        lad = lad[~(acc & lad["step"].isin(steps[10:10 + k]))]
    d = describe(lad)
    assert d.holes == [
        "task 'piqa' has no accuracy at some checkpoints where the run's other tasks do, on 760M-2xC (3 missing), "
        "1B-5xC (1 missing): step 2 fits the checkpoints it has (an evaluation that failed?)"]
    assert not any("piqa" in n for n in d.notes)  # not a warning beside every prediction
    assert describe(olmo2_ladder().ladder).holes == []
    lad.to_csv(tmp_path / "l.csv", index=False)
    r = run_cli("data", "--ladder", tmp_path / "l.csv", "--json")
    assert json.loads(r.stdout)["holes"] == d.holes


def test_data_out_into_the_ladder_folder_leaves_it_a_ladder(tmp_path):
    # runs.csv and tasks.csv beside data.json (and plan.csv beside plan.json) are outputs, not runs
    lad = olmo2_ladder().ladder
    runs = tmp_path / "runs"
    runs.mkdir()
    lad.to_csv(runs / "ladder.csv", index=False)
    first = run_cli("data", "--ladder", runs, "--out", runs, "--json")
    assert first.returncode == 0, first.stderr
    assert run_cli("plan", "--ladder", runs, "--out", runs).returncode == 0
    again = run_cli("data", "--ladder", runs, "--json")
    assert again.returncode == 0 and json.loads(again.stdout) == json.loads(first.stdout), again.stderr
    r = run_cli("data", "--export", tmp_path / "x.csv", "--out", tmp_path / "d")
    assert r.returncode == 2 and "give --out in another call" in r.stderr and not (tmp_path / "x.csv").exists()


def test_a_repeated_description_reads_no_table_and_says_the_reading_warnings_again(tmp_path):
    # `data` is described once per set of files (serve.ladder_description, cached by their bytes):
    # again, it prints the same without pandas, and a warning from reading the files is said again
    import shutil

    shutil.copytree(DATA / "olmes_output", tmp_path / "olmes")
    lad = olmo2_ladder().ladder
    mine = ~lad["run"].str.startswith(("190M-1x", "370M-1x"))  # the OLMES folder is a 370M-1xC checkpoint
    lad = lad.assign(convention="olmo")  # the OLMES folder's is 'olmes': mixed on request, with a warning
    lad[mine].to_csv(tmp_path / "l.csv", index=False)
    args = ["data", "--ladder", str(tmp_path / "l.csv"), "--ladder", str(tmp_path / "olmes"), "--mixed-conventions"]

    def probe(*more, cache="cache"):
        return probe_cli(tmp_path / cache, *args, *more)

    cold, warm = probe(), probe()
    cold_json, warm_json = probe("--json", cache="other"), probe("--json")
    for c, w in ((cold, warm), (cold_json, warm_json)):
        assert c.returncode == w.returncode == 0, c.stderr
        assert w.stdout == c.stdout and "370M-1xC" in w.stdout and "1B-10xC" in w.stdout
        assert "pandas" in imported(c) and imported(w) == "[]", w.stderr
        assert w.stderr.count("mixed on request") == c.stderr.count("mixed on request") == 1
    # the file changed: described anew
    lad[mine & (lad["run"] != "1B-10xC")].to_csv(tmp_path / "l.csv", index=False)
    again = probe("--json")
    assert "pandas" in imported(again)
    assert "1B-10xC" not in {r["run"] for r in json.loads(again.stdout)["runs"]}
