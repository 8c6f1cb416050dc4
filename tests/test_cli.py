"""The command line as a user meets it: outputs, the JSON contract, and bad input."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, run_cli

from taskladder.datasets import olmo2_ladder
from taskladder.paper import FIGURE2

PAPER_TASK_NAMES = {"mmlu", "hellaswag", "arc_challenge", "arc_easy", "piqa", "csqa", "socialiqa", "openbookqa"}


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep")
    r = run_cli("reproduce", "--json", "--out", out)
    assert r.returncode == 0 and r.stderr == "", r.stderr  # stderr piped: no progress, no blank line
    return json.loads(r.stdout), out


def test_version_is_the_installed_packages():
    """One version (taskladder.__version__, which keys the cache): the installed metadata reads it."""
    from importlib.metadata import version

    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout == f"taskladder {version('taskladder')}\n"
    import taskladder

    assert version("taskladder") == taskladder.__version__


def test_reproduce_json_contract(reproduced):
    obj, _ = reproduced
    recs = obj["predictions"]
    assert {(p["task"], p["target"]) for p in recs} == {(t, g) for t in PAPER_TASK_NAMES for g in ("7B-4T", "13B-5T")}
    for p in recs:
        assert 0 < p["predicted"] < 1 and 0 < p["actual"] < 1
        ref = FIGURE2[p["task"]][0 if p["target"] == "7B-4T" else 2]
        assert abs(100 * p["predicted"] - ref) <= 0.05 + 1e-9


def test_reproduce_json_carries_design_choices_and_variance(reproduced):
    obj, _ = reproduced
    dc = obj["design_choices"]
    # the paper's sizes: its FLOPs design counts compute as OLMo logged it
    assert {r["design"] for r in dc} == {"task_bpb", "flops_olmo", "taskce", "c4", "single_step"}
    assert all({"design", "task", "target", "relative_error"} <= set(r) for r in dc)
    var = {r["task"]: r for r in obj["variance"]}
    assert len(var) == 10 and round(var["openbookqa"]["acc_sd"], 4) == 0.0095
    assert all({"loss_sd", "loss_rel_sd", "acc_sd", "acc_rel_sd"} <= set(r) for r in var.values())
    vc = obj["variance_correlation"]
    assert vc["target"] == "7B-4T" and round(vc["r"], 2) == 0.82 and len(vc["errors"]) == 10


def test_reproduce_json_carries_auto_predictions(reproduced):
    obj, _ = reproduced
    auto = obj["auto"]
    assert len(auto) == 16
    for r in auto:
        assert {"task", "target", "predicted", "lower", "upper", "actual", "pipeline"} <= set(r)
        assert r["lower"] <= r["predicted"] <= r["upper"]
        # every output says what the interval is: its level and how it was built and calibrated
        assert r["level"] == 0.9 and "backtest --calibration" in r["interval"]
    # the paper's design stays in "predictions"; auto sits beside it
    assert abs(obj["predictions"][0]["predicted"] - 0.4838) < 1e-3
    # and the mean over the 8 tasks per target, with its own interval (taskladder.aggregate)
    means = {m["target"]: m for m in obj["auto_mean"]}
    assert set(means) == {"7B-4T", "13B-5T"}
    for tgt, m in means.items():
        rows = [r for r in auto if r["target"] == tgt]
        assert m["predicted"] == pytest.approx(sum(r["predicted"] for r in rows) / 8, abs=1e-12)
        assert m["actual"] == pytest.approx(sum(r["actual"] for r in rows) / 8, abs=1e-12)
        assert m["lower"] < m["predicted"] < m["upper"] and m["covered"] and "correlated 0.25" in m["interval"]
        assert m["tasks"] == [r["task"] for r in rows]


def test_reproduce_writes_tables_and_figures(reproduced):
    _, out = reproduced
    for f in ("reproduce.json", "predictions.parquet", "predictions.csv", "step1.png", "step2.png",
              "chained.png", "summary.png", "design_choices.png", "variance.png", "design_choices.parquet"):
        assert (out / f).stat().st_size > 0, f
    df = pd.read_parquet(out / "predictions.parquet")
    assert len(df) == 16 and {"predicted", "actual", "abs_error", "rel_error", "flags"} <= set(df.columns)


def test_a_repeated_reproduce_writes_the_same_files_without_scipy_or_matplotlib(reproduced, tmp_path):
    # after the module's reproduce, every fit and figure is in the cache: the same files again,
    # byte for byte, and neither the fitting nor the drawing libraries imported (a cached fit was
    # read in a forked pool, whose workers imported scipy.optimize; a cached figure imported pyplot)
    import subprocess
    import sys

    obj, first = reproduced
    probe = ("import sys\nfrom taskladder.cli import main\nsys.argv = ['taskladder', *sys.argv[1:]]\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('scipy.optimize', 'matplotlib.pyplot') if m in sys.modules), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", probe, "reproduce", "--json", "--out", tmp_path], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stderr.strip().splitlines()[-1] == "[]", r.stderr
    assert json.loads(r.stdout) == obj
    for f in first.iterdir():
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name


def test_predict_any_target_json():
    r = run_cli("predict", "--paper", "--n", "6887575552", "--tokens", "3945065873408", "--task", "mmlu", "--json")
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)["predictions"][0]
    assert p["task"] == "mmlu" and abs(100 * p["predicted"] - 48.4) < 0.5 and p["actual"] is None


def test_predict_with_suffixes_and_bundled_target():
    r = run_cli("predict", "--paper", "--target", "13B-5T", "--n", "70B", "--tokens", "15T", "--task", "hellaswag", "--json")
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)["predictions"]
    assert [p["target"] for p in recs] == ["13B-5T", "N=7e+10,D=1.5e+13"]
    assert recs[1]["n"] == 70_000_000_000 and recs[1]["predicted"] > recs[0]["predicted"]


def test_predict_on_user_ladder_files_matches_bundled(tmp_path):
    # A user brings the same ladder as a long Parquet file plus a size table.
    lad = olmo2_ladder().ladder
    (lad.drop(columns=["n"])).to_parquet(tmp_path / "ladder.parquet")
    sizes = lad.groupby("size")["n"].first().reset_index()
    sizes.to_csv(tmp_path / "sizes.csv", index=False)
    a = run_cli("predict", "--paper", "--ladder", tmp_path / "ladder.parquet", "--sizes", tmp_path / "sizes.csv",
                "--n", "13202396160", "--tokens", "5000088518656", "--task", "piqa", "--json")
    b = run_cli("predict", "--paper", "--n", "13202396160", "--tokens", "5000088518656", "--task", "piqa", "--json")
    assert a.returncode == 0, a.stderr
    pa, pb = json.loads(a.stdout)["predictions"][0], json.loads(b.stdout)["predictions"][0]
    assert pa["predicted"] == pytest.approx(pb["predicted"], abs=1e-9)


def test_human_table_output():
    r = run_cli("reproduce", "--no-figures", "--out", "/tmp/taskladder-test-out")
    assert r.returncode == 0, r.stderr
    assert "mean absolute error 7B-4T: 3.82 points (paper: 3.8)" in r.stdout
    assert "E is at its bound 0" in r.stdout  # the CommonsenseQA flag is shown


def test_a_flag_shared_by_tasks_is_one_note():
    from rich.console import Console

    from taskladder.cli import _prediction_table

    flag = "step 1: parameter E is at its bound 0"
    rows = [{"task": t, "target": "7B-4T", "predicted": 0.5, "actual": 0.5, "abs_error": 0.0, "rel_error": 0.0,
             "flags": f} for t, f in (("mmlu", flag), ("piqa", ""), ("csqa", flag), ("hellaswag", "step 2: x"))]
    con = Console(width=200, record=True)
    con.print(*_prediction_table(rows, "Prediction"))
    text = con.export_text()
    assert [ln.split("│")[-2].strip() for ln in text.splitlines() if ln.startswith("│")] == ["[1]", "", "[1]", "[2]"]
    notes = [ln.strip() for ln in text.splitlines() if ln.startswith("[")]
    assert notes == [f"[1] {flag}", "[2] step 2: x"]


def _bad_wide(tmp_path, mutate, every_run=False):
    """A 6-run ladder folder (the fixture run copied under other names), one run corrupted."""
    raw = pd.read_csv(DATA / "190M-1xC.csv")
    d = tmp_path / "ladder"
    d.mkdir(exist_ok=True)
    for i, name in enumerate(["190M-1xC", "190M-2xC", "190M-5xC", "370M-1xC", "370M-2xC", "370M-5xC"]):
        run = raw.assign(_step=raw["_step"] * (1 + i % 3))
        (mutate(run) if i == 5 or every_run else run).to_csv(d / f"{name}.csv", index=False)
    return d


@pytest.mark.parametrize("args, message", [
    (["predict", "--n", "7e9", "--tokens", "4e12", "--task", "mmlux"], "task 'mmlux' is not in the ladder"),
    (["predict", "--n", "7e9"], "needs both --n (parameters) and --tokens"),
    (["predict", "--tokens", "4T"], "needs both --n (parameters) and --tokens"),
    (["predict"], "no target"),
    (["predict", "--n", "seven", "--tokens", "4T"], "--n: 'seven' is not a number"),
    (["predict", "--n", "7e9", "--tokens", "4T", "--feature", "c5"], "unknown feature 'c5'"),
    (["predict", "--target", "70B"], "unknown target '70B'; bundled"),
    (["predict", "--n", "7e9", "--tokens", "4T", "--ladder", "/nonexistent.csv"], "/nonexistent.csv: no such file"),
    # a near miss is named
    (["predict", "--target", "7b-4t"], "unknown target '7b-4t' (did you mean '7B-4T'?); bundled targets: 7B-4T, 13B-5T"),
    (["predict", *"--n 7e9 --tokens 4T --paper --task hellaswg".split()], "(did you mean 'hellaswag'?) (tasks with"),
    (["predict", *"--n 7e9 --tokens 4T --design task-bpb".split()], "unknown design 'task-bpb' (did you mean 'task_bpb'?)"),
    (["forecast", *"--target 7B-4T --task piqa_rc".split()], "task 'piqa_rc' is not in the log (did you mean 'piqa'?)"),
    (["predict", *"--n 7e9 --tokens 4T --paper --task PIQA_RC".split()], "'PIQA_RC' is not in the ladder (did you mean 'piqa'?)"),
    (["plan", "--sizes", "190m,1b"], "unknown size '190m' (did you mean '190M'?)"),
    (["evaluate", "x", *"--task arc-easyy --run-name a --params 1 --out o.parquet".split()],
     "unknown task 'arc-easyy' (did you mean 'arc_easy'?)"),
    # counts, outputs, click errors and the rest of the bad-input cases: tests/test_fuzz.py
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = run_cli(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_ladder_files_exit_2(tmp_path):
    cases = [
        (lambda d: d.drop(columns=["eval/downstream/piqa_val_rc_5shot_len_norm"]), "no 'acc' values for task 'piqa'"),
        (lambda d: d.assign(**{"eval/downstream_bpb/piqa_val_rc_5shot_bpb": np.inf}), "is not a finite number"),
        (lambda d: d.assign(_step=d["_step"][::-1].to_numpy()), "steps must increase"),
    ]
    for i, (mutate, message) in enumerate(cases):
        (tmp_path / str(i)).mkdir()
        folder = _bad_wide(tmp_path / str(i), mutate, every_run=i == 0)
        r = run_cli("predict", "--paper", "--ladder", folder, "--n", "7e9", "--tokens", "4T", "--task", "piqa")
        assert r.returncode == 2 and message in r.stderr, (message, r.stderr)
        assert "Traceback" not in r.stderr


def test_fewer_runs_than_parameters_exit_2(tmp_path):
    d = tmp_path / "lad"
    d.mkdir()
    raw = pd.read_csv(DATA / "190M-1xC.csv")
    for i, name in enumerate(["190M-1xC", "190M-2xC", "190M-5xC", "190M-10xC"]):
        raw.assign(_step=raw["_step"] * (i + 1)).to_csv(d / f"{name}.csv", index=False)
    r = run_cli("predict", "--paper", "--ladder", d, "--n", "7e9", "--tokens", "4T", "--task", "piqa")
    assert r.returncode == 2
    assert "step 1 has 5 parameters but the ladder has only 4 runs" in r.stderr
    # the automatic choice needs enough runs to hold the largest ones out: also one clear line
    r = run_cli("predict", "--ladder", d, "--n", "7e9", "--tokens", "4T", "--task", "piqa")
    assert r.returncode == 2 and "needs at least 10 ladder runs" in r.stderr and "--paper" in r.stderr
    assert "Traceback" not in r.stderr


def test_unwritable_output_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("reproduce", "--out", blocker / "sub")
    assert r.returncode == 2 and "cannot create output folder" in r.stderr


@pytest.mark.parametrize("design", ["flops", "flops_olmo", "taskce", "c4", "single_step"])
def test_predict_with_each_design_matches_the_analysis(design):
    from taskladder.analyses import design_choices

    d = olmo2_ladder()
    want = design_choices(d.ladder, [d.targets["13B-5T"]], ["piqa"], [design])["predicted"].iloc[0]
    r = run_cli("predict", "--target", "13B-5T", "--task", "piqa", "--design", design, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["predictions"][0]["predicted"] == pytest.approx(want, abs=1e-12)


def test_backtest_cli(tmp_path):
    r = run_cli("backtest", "--task", "piqa", "--json", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    designs = {x["design"] for x in obj["summary"]}
    assert designs == {"task_bpb", "flops", "taskce", "c4", "single_step", "acc_power"}
    held = {(x["split"], x["run"]) for x in obj["runs"]}
    assert ("N", "1B-10xC") in held and ("compute", "760M-10xC") in held
    for x in obj["summary"]:  # each pipeline's line: the means over its held-out runs, both splits
        runs = [r for r in obj["runs"] if r["design"] == x["design"]]
        assert len(runs) == 8 and x["abs_error"] == pytest.approx(np.mean([r["abs_error"] for r in runs]))
        assert x["coverage"] == pytest.approx(np.mean([r["covered"] for r in runs]))
        assert x["predictability_sd"] == pytest.approx(np.mean([r["ckpt_sd"] for r in runs]))
    assert (tmp_path / "backtest.parquet").exists()
    assert (tmp_path / "backtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert obj["notes"] == []  # the bundled ladder: nothing it cannot tell
    # its largest run still training: the held-out 1B-10xC's "actual" is its unannealed end, and
    # the backtest says so, as predict does
    lad = olmo2_ladder().ladder
    one = lad["run"] == "1B-10xC"
    lad[~(one & (lad["step"] > 0.6 * lad.loc[one, "step"].max()))].to_csv(tmp_path / "short.csv", index=False)
    r = run_cli("backtest", "--ladder", tmp_path / "short.csv", "--task", "piqa", "--json")
    assert r.returncode == 0, r.stderr
    (note,) = json.loads(r.stdout)["notes"]
    assert note.startswith("run 1B-10xC (6xC) ends short of the tokens its name says")
    r = run_cli("backtest", "--holdout", "0")
    assert r.returncode == 2 and "--holdout must be at least 1" in r.stderr


def test_a_repeated_backtest_reads_no_table(tmp_path):
    # the backtest of the same files and options is answered from the cache (serve.backtest_answer):
    # the same table and JSON without pandas; a changed file is backtested anew; --out reads the table
    from conftest import imported, probe_cli

    lad = olmo2_ladder().ladder
    lad[lad["task"] == "piqa"].to_csv(tmp_path / "l.csv", index=False)
    args = ["backtest", "--ladder", tmp_path / "l.csv"]
    cold, warm = probe_cli(tmp_path / "c", *args), probe_cli(tmp_path / "c", *args)
    cold_json, warm_json = probe_cli(tmp_path / "j", *args, "--json"), probe_cli(tmp_path / "j", *args, "--json")
    for c, w in ((cold, warm), (cold_json, warm_json)):
        assert c.returncode == w.returncode == 0, c.stderr
        assert w.stdout == c.stdout and "pandas" in imported(c) and imported(w) == "[]", w.stderr
    assert "PIQA" in warm.stdout and "held out by N: 1B-1xC, 1B-2xC, 1B-5xC, 1B-10xC;" in " ".join(warm.stdout.split())
    out = probe_cli(tmp_path / "j", *args, "--out", tmp_path / "o", "--json")
    assert out.returncode == 0 and out.stdout == warm_json.stdout and (tmp_path / "o" / "backtest.png").exists()
    lad[(lad["task"] == "piqa") & (lad["run"] != "190M-1xC")].to_csv(tmp_path / "l.csv", index=False)
    again = probe_cli(tmp_path / "j", *args, "--json")
    assert "pandas" in imported(again) and again.stdout != warm_json.stdout


def test_a_sweep_of_targets_predicts_each_as_it_would_alone():
    from taskladder.datasets import make_targets

    sweep = make_targets(("7B-4T",), n=[3_000_000_000, 7_000_000_000], tokens=4_000_000_000_000)
    assert [(t.name, t.n, t.d) for t in sweep[1:]] == [("N=3e+09,D=4e+12", 3e9, 4e12), ("N=7e+09,D=4e+12", 7e9, 4e12)]
    assert sweep[0].name == "7B-4T" and len(make_targets(n=[1, 2, 3], tokens=[4, 5, 6])) == 3
    both = run_cli("predict", "--n", "3B,7B", "--tokens", "4T", "--task", "mmlu", "--json")
    one = run_cli("predict", "--n", "7B", "--tokens", "4T", "--task", "mmlu", "--json")
    assert both.returncode == 0 and one.returncode == 0, both.stderr + one.stderr
    rows = json.loads(both.stdout)["predictions"]
    assert [r["target"] for r in rows] == ["N=3e+09,D=4e+12", "N=7e+09,D=4e+12"]
    alone = json.loads(one.stdout)["predictions"][0]
    assert {k: rows[1][k] for k in ("predicted", "lower", "upper")} == {k: alone[k] for k in ("predicted", "lower", "upper")}
    assert rows[0]["predicted"] < rows[1]["predicted"]  # a smaller model on the same tokens


def test_predict_out_draws_a_sweep_as_curves_and_a_few_targets_as_rows(tmp_path):
    from taskladder.datasets import make_targets
    from taskladder.plots import sweep_figure

    r = run_cli("predict", "--n", "13B,1B,3B,7B,30B", "--tokens", "4T", "--task", "mmlu", "--task", "arc_easy",
                "--out", tmp_path / "sweep", "--json")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "sweep" / "predictions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = pd.DataFrame(json.loads(r.stdout)["predictions"])
    compute = {t.name: 6.0 * t.n * t.d for t in make_targets(n=[13e9, 1e9, 3e9, 7e9, 30e9], tokens=4e12)}
    fig = sweep_figure(rows, compute)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["MMLU", "ARC-Easy"]
    for ax, task in zip(fig.axes, ("mmlu", "arc_easy")):
        g = rows[rows["task"] == task].assign(c=lambda f: f["target"].map(compute)).sort_values("c")
        x, y = ax.get_lines()[0].get_data()  # the targets in order of compute, not of the command line
        np.testing.assert_allclose(x, g["c"])
        np.testing.assert_allclose(y, 100 * g["predicted"])
        assert np.all(np.diff(y) > 0)  # bigger models on the same tokens do better
        band = ax.collections[0].get_paths()[0].vertices[:, 1]  # the interval, lower to upper
        assert band.min() == pytest.approx(100 * g["lower"].min()) and band.max() == pytest.approx(100 * g["upper"].max())
    # two bundled targets with a fixed pipeline (no interval): one row per task and target, the actuals shown
    r = run_cli("predict", "--target", "7B-4T", "--target", "13B-5T", "--task", "piqa", "--paper",
                "--out", tmp_path / "rows")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "rows" / "predictions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_sweep_prints_tasks_by_targets_a_few_targets_a_table():
    args = ("predict", "--n", "1B,3B,7B,13B,30B", "--tokens", "4T", "--target", "7B-4T", "--task", "mmlu",
            "--task", "piqa")
    r, j = run_cli(*args), run_cli(*args, "--json")
    assert r.returncode == 0 and j.returncode == 0, r.stderr + j.stderr
    text = r.stdout
    # 6 targets: two tables of 3 (balanced), every line within 80 columns
    assert "targets 1-3 of 6" in text and "targets 4-6 of 6" in text and "targets 1-4" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    rows = json.loads(j.stdout)["predictions"]
    assert len(rows) == 12
    for row in rows:  # every prediction and interval of the JSON is in a cell
        assert f"{100 * row['predicted']:.1f}" in text
        assert f"[{100 * row['lower']:.1f}, {100 * row['upper']:.1f}]" in text
    scored = [row for row in rows if row["actual"] is not None]
    assert [row["target"] for row in scored] == ["7B-4T", "7B-4T"]
    for row in scored:
        assert f"act. {100 * row['actual']:.1f}" in text
    mae = sum(row["abs_error"] for row in scored) / 2
    assert f"{mae:.2f}" in text and f"{sum(row['covered'] for row in scored)}/2 covered" in text
    # three targets keep one table each
    few = run_cli("predict", "--n", "1B,3B,7B", "--tokens", "4T", "--task", "mmlu")
    assert few.returncode == 0 and few.stdout.count("Automatic prediction, N=") == 3
    # a fixed pipeline's sweep: its predictions (no interval) and its fit's flags under the table
    fixed = run_cli(*args, "--paper", "--json")
    table = run_cli(*args, "--paper").stdout
    assert "Prediction (bpb -> accuracy), targets 1-3 of 6" in table
    for row in json.loads(fixed.stdout)["predictions"]:
        assert f"{100 * row['predicted']:.1f}" in table


def test_bundled_targets_with_your_own_ladder(tmp_path):
    path = tmp_path / "mine.csv"
    olmo2_ladder().ladder.to_csv(path, index=False)
    a = run_cli("predict", "--ladder", path, "--target", "7B-4T", "--paper", "--task", "mmlu", "--json")
    b = run_cli("predict", "--target", "7B-4T", "--paper", "--task", "mmlu", "--json")
    assert a.returncode == 0, a.stderr
    pa, pb = json.loads(a.stdout)["predictions"][0], json.loads(b.stdout)["predictions"][0]
    assert pa["predicted"] == pytest.approx(pb["predicted"], abs=1e-12) and pa["actual"] == pb["actual"]


def test_every_table_fits_80_columns_whatever_the_terminal(tmp_path):
    # piped output is 80 columns wide even when the terminal claims 200; no cell is cut short
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "200"}
    for args in (["reproduce", "--no-figures", "--out", tmp_path], ["predict", "--target", "13B-5T", "--task", "piqa", "--pipelines"],
                 ["predict", "--n", "7B", "--tokens", "4T", "--paper", "--task", "mmlu"],
                 ["backtest", "--task", "piqa"], ["plan"], ["data"],
                 ["forecast", "--target", "7B-4T", "--upto", "0.5", "--task", "mmlu"]):
        r = subprocess.run([sys.executable, "-m", "taskladder.cli", *map(str, args)], capture_output=True, text=True,
                           env=env)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines and max(map(len, lines)) <= 80, (args, max(map(len, lines)))
        assert "…" not in r.stdout, (args, [x for x in lines if "…" in x])


def test_a_task_named_twice_is_predicted_once():
    from taskladder.tasks import PAPER_TASKS, parse_names  # what --task is parsed with

    assert parse_names(["mmlu,piqa,mmlu", "piqa"]) == ["mmlu", "piqa"]
    assert parse_names(["piqa,paper"]) == ["piqa", *[t for t in PAPER_TASKS if t != "piqa"]]
    assert parse_names(["paper,piqa"]) == list(PAPER_TASKS)


def test_tasks_named_as_the_tables_print_them(tmp_path):
    # `data` and every table print 'ARC-Challenge' and 'Social IQa': --task takes those, and a
    # user's table written with them is the registry's tasks (the paper's, by default)
    def preds(*args):
        r = run_cli("predict", "--n", "7B", "--tokens", "4T", "--paper", "--json", *args)
        assert r.returncode == 0, r.stderr
        return [(p["task"], p["predicted"]) for p in json.loads(r.stdout)["predictions"]]

    keys = preds("--task", "arc_challenge,socialiqa")
    assert preds("--task", "ARC-Challenge,Social IQa") == keys
    table = olmo2_ladder().ladder
    table = table[table["task"].isin(["arc_challenge", "socialiqa", "mmlu"])]
    shown = {"arc_challenge": "ARC-Challenge", "socialiqa": "Social IQa", "mmlu": "MMLU"}
    table.assign(task=table["task"].map(shown)).to_csv(tmp_path / "ladder.csv", index=False)
    table.to_csv(tmp_path / "keys.csv", index=False)
    mine = preds("--ladder", tmp_path / "ladder.csv")
    assert [t for t, _ in mine] == ["mmlu", "arc_challenge", "socialiqa"]  # the paper's order: its tasks
    assert mine == preds("--ladder", tmp_path / "keys.csv")
    r = run_cli("forecast", "--target", "7B-4T", "--upto", "0.5", "--task", "ARC-Challenge", "--json")
    assert r.returncode == 0, r.stderr
    assert [f["task"] for f in json.loads(r.stdout)["forecasts"]] == ["arc_challenge"]


def test_plan_takes_the_target_as_predict_does():
    # `predict --n 7B --tokens 4T` and `plan --n 7B --tokens 4T` name the same target
    a, b = (run_cli("plan", *args, "--json") for args in (["--n", "7B", "--tokens", "4T"],
                                                          ["--target-n", "7e9", "--target-tokens", "4e12"]))
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)
    assert json.loads(a.stdout)["config"]["target_n"] == 7_000_000_000


def test_plan_prints_every_rungs_share_of_the_target_with_two_significant_digits():
    # the 7B plan's smallest rung is 4.35e18 / (6 x 7e9 x 4e12) = 0.0026% of the target: two decimals
    # printed it as 0.00%; the shares of 0.1% and more keep two decimals (1B-10xC: 1.17%)
    r = run_cli("plan", "--n", "7B", "--tokens", "4T")
    assert r.returncode == 0, r.stderr
    import re

    shares = dict(re.findall(r"(\d+[MB]-\d+xC)\W.*?([\d.]+%)", r.stdout))  # the budget table's rows
    assert shares["190M-1xC"] == "0.0026%" and shares["370M-2xC"] == "0.020%" and shares["1B-10xC"] == "1.17%"
    assert "= 3.07% of the target's 6ND" in r.stdout.replace("\n", " ")


def test_tokens_as_a_chinchilla_multiple_on_predict_plan_and_forecast():
    def out(*args):
        r = run_cli(*args, "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    a = out("predict", "--n", "7B", "--tokens", "1xC,28.6xC", "--paper", "--task", "mmlu")["predictions"]
    b = out("predict", "--n", "7B", "--tokens", "140e9,4.004T", "--paper", "--task", "mmlu")["predictions"]
    assert [(r["target"], r["predicted"]) for r in a] == [(r["target"], r["predicted"]) for r in b]
    assert out("plan", "--n", "7B", "--tokens", "1xC")["config"]["target_tokens"] == 140_000_000_000
    # forecast: of the log's own N (7B-4T: 6,887,575,552 parameters)
    f = out("forecast", "--target", "7B-4T", "--task", "mmlu", "--tokens", "30xC")["forecasts"][0]
    assert f["tokens"] == round(30 * 20 * 6_887_575_552)


def test_a_training_budget_names_targets_with_n_or_tokens():
    def preds(*args):
        r = run_cli("predict", *args, "--paper", "--task", "mmlu", "--json")
        assert r.returncode == 0, r.stderr
        return [(p["target"], p["predicted"]) for p in json.loads(r.stdout)["predictions"]]

    # 7B at 4T is 1.68e23 FLOPs (6ND): either count with the budget gives the same target
    assert preds("--flops", "1.68e23", "--n", "7B") == preds("--n", "7B", "--tokens", "4T")
    assert preds("--flops", "1.68e23", "--tokens", "4T") == preds("--n", "7B", "--tokens", "4T")
    sweep = preds("--flops", "1.2e22,1.2e24", "--tokens", "1xC")  # Chinchilla-optimal: N = sqrt(C / 120)
    assert [t for t, _ in sweep] == ["N=1e+10,D=2e+11", "N=1e+11,D=2e+12"] and sweep[0][1] < sweep[1][1]
    r = run_cli("predict", "--flops", "1e23", "--paper")
    assert r.returncode == 2 and r.stderr.strip() == (
        "taskladder: error: --flops takes one of --n or --tokens, and sets the other by C = 6 N D")


def test_a_target_log_is_an_actual_only_at_its_own_end(tmp_path):
    # a run still training (its log at 3T) predicted at its planned 5T: its last checkpoints are
    # the model at 3T, not an actual for 5T, so no error is claimed; at the log's end they are
    log = olmo2_ladder().targets["13B-5T"].full
    log[log["step"] <= 0.6 * log["step"].max()].to_csv(tmp_path / "run.csv", index=False)
    end = float(log[log["step"] <= 0.6 * log["step"].max()]["d"].max())

    def got(*args):
        r = run_cli("predict", "--target-file", tmp_path / "run.csv", "--paper", "--task", "mmlu", "--json", *args)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    far = got("--tokens", "5T")
    assert far["predictions"][0]["actual"] is None and far["predictions"][0]["abs_error"] is None
    (note,) = far["notes"]
    assert note.startswith(str(tmp_path / "run.csv")) and "ends at 2.98e+12 tokens and the prediction is for 5e+12" in note
    # its end, or near it (a planned end given round): the actual kept, with a note past 1%
    assert got()["notes"] == [] and got()["predictions"][0]["actual"] > 0.4
    near = got("--tokens", f"{1.017 * end:.6g}")
    assert near["predictions"][0]["actual"] == got()["predictions"][0]["actual"]
    assert near["notes"] == [f"{tmp_path / 'run.csv'}: its actual is its last checkpoints at {end:.4g} tokens, 1.7% "
                             f"before the prediction's {1.017 * end:.4g}; a run's last stretch can still move it, "
                             "e.g. where its learning rate decays"]
    assert got("--tokens", f"{1.009 * end:.6g}")["notes"] == []  # within 1%: the same point


def test_a_bundled_target_at_other_tokens():
    # --target with --tokens alone: the bundled model's own N at those tokens, as --target-file's
    def got(*args):
        r = run_cli("predict", "--paper", "--task", "mmlu", "--json", *args)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    n7 = olmo2_ladder().targets["7B-4T"].n
    far = got("--target", "7B-4T", "--tokens", "8T,1xC")
    same_n = got("--n", str(n7), "--tokens", f"8T,{20 * n7}")
    assert [(p["target"], p["predicted"]) for p in far["predictions"]] == [
        ("7B-4T@8e+12", same_n["predictions"][0]["predicted"]), ("7B-4T@1.38e+11", same_n["predictions"][1]["predicted"])]
    assert all(p["actual"] is None for p in far["predictions"])
    assert far["notes"] == [f"7B-4T: the log ends at 3.95e+12 tokens and the prediction is for {d}, so its last "
                            "checkpoints are no actual for it (none is shown)" for d in ("8e+12", "1.38e+11")]
    # within 5% of its log's end it keeps its actual; at its own D, its name too
    both = got("--target", "7B-4T", "--tokens", "4T,3945065873408")
    near, end = both["predictions"]
    assert both["notes"] == ["7B-4T: its actual is its last checkpoints at 3.945e+12 tokens, 1.4% before the "
                             "prediction's 4e+12; a run's last stretch can still move it, e.g. where its learning "
                             "rate decays"]
    at_end = got("--target", "7B-4T")["predictions"][0]
    assert (near["target"], near["actual"]) == ("7B-4T@4e+12", at_end["actual"]) and near["predicted"] > at_end["predicted"]
    assert end == at_end
    for args, msg in ((["--n", "8B"], "--n with --target: 7B-4T has its own N (--tokens alone sets its tokens); "
                                      "another model needs --n and --tokens, or --flops and one of them"),
                      (["--tokens", "8T", "--name", "x"], "--name labels a target given by --n/--tokens or "
                                                          "--target-file; a bundled target keeps its own name")):
        r = run_cli("predict", "--target", "7B-4T", *args)
        assert r.returncode == 2 and r.stderr.strip() == f"taskladder: error: {msg}"


def test_pipelines_shows_what_the_automatic_choice_weighs():
    args = ["predict", "--target", "7B-4T", "--task", "piqa"]
    shown = run_cli(*args, "--pipelines")
    assert shown.returncode == 0, shown.stderr
    weights = json.loads(run_cli(*args, "--json").stdout)["weights"]
    table = shown.stdout.split("Pipelines of the automatic prediction, 7B-4T")[1]
    rows = [line.split("│")[1:-1] for line in table.splitlines() if line.startswith("│")]
    assert [c[1].strip() for c in rows] == [w["design"] for w in weights]  # one row per pipeline, in order
    for cells, w in zip(rows, weights):
        assert cells[2].strip() == f"{100 * w['predicted']:.1f}" and cells[5].strip() == f"{w['weight']:.2f}"
    assert abs(sum(w["weight"] for w in weights) - 1) < 1e-9
    r = run_cli("predict", "--n", "7B", "--tokens", "4T", "--paper", "--pipelines")
    assert r.returncode == 2 and "--pipelines shows how the automatic choice weighs its pipelines" in r.stderr
