"""Bad input, tried as a new user would: each case exits 2 with exactly one line on stderr, no
traceback and no files or folders left behind, or exits 0 with the right result.

Inputs are built once per session in a scratch folder; each case runs the installed CLI
in a subprocess, in its own empty working folder, with an --out that must not appear.
"""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, run_cli

from taskladder.datasets import olmo2_ladder


@pytest.fixture(scope="session")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz-inputs")
    lad = olmo2_ladder().ladder
    acc = lad["metric"] == "acc"
    lad.assign(value=np.where(acc, lad["value"] * 100, lad["value"])).to_csv(d / "percent.csv", index=False)
    neg = lad.copy()
    neg.loc[neg.index[acc][5], "value"] = -0.1
    neg.to_csv(d / "negative_acc.csv", index=False)
    big = lad.copy()
    big.loc[big.index[acc][7], "value"] = 1.5
    big.to_csv(d / "acc_above_1.csv", index=False)
    zero = lad.copy()
    zero.loc[zero.index[lad["metric"] == "bpb"][3], "value"] = 0.0
    zero.to_csv(d / "zero_loss.csv", index=False)
    wide = pd.read_csv(DATA / "190M-1xC.csv")
    col = "eval/downstream/piqa_val_rc_5shot_len_norm"
    (d / "wide").mkdir()
    wide.assign(**{col: wide[col] * 100}).to_csv(d / "wide" / "190M-1xC.csv", index=False)
    wide.iloc[:2].to_csv(d / "two_checkpoints.csv", index=False)
    # a 7-run ladder: enough for the paper's design (5 parameters), not for the backtest (10 runs)
    small = lad[lad["run"].isin(sorted(lad["run"].unique())[:7])]
    small.to_csv(d / "seven_runs.csv", index=False)
    lad[lad["metric"] != "taskce"].to_csv(d / "no_taskce.csv", index=False)
    lad.drop(columns=["n"]).to_csv(d / "no_n.csv", index=False)
    lad.assign(run=lad["run"].where(lad.index != 6)).to_csv(d / "empty_run.csv", index=False)
    sizes = lad.groupby("size")["n"].first().reset_index()
    sizes.assign(n=-sizes["n"]).to_csv(d / "sizes_negative.csv", index=False)
    pd.concat([sizes, sizes.iloc[:1].assign(n=5)]).to_csv(d / "sizes_twice.csv", index=False)
    lad[lad["run"].isin(["1B-10xC", "760M-10xC"])].to_csv(d / "two_runs.csv", index=False)
    (d / "header_only.csv").write_text("run,step\n")  # a W&B export that failed: a header, no rows
    (d / "unknown.csv").write_text("model,score\na,0.5\n")  # a spreadsheet of something else
    (d / "garbage.jsonl").write_bytes(bytes(range(256)) * 8)
    (d / "garbage.parquet").write_bytes(b"PAR1" + bytes(range(200)) + b"not parquet")
    for name, text in (("broken", "{garbage"), ("empty", "{}")):
        (d / name / "step100").mkdir(parents=True)
        (d / name / "step100" / "config.json").write_text(text)
    return d


def _bert(d):
    """A real (tiny, random) BERT checkpoint: an encoder, not a causal LM."""
    from transformers import BertConfig, BertForMaskedLM

    path = d / "bert" / "step100"
    if not path.exists():
        cfg = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)
        BertForMaskedLM(cfg).save_pretrained(path)
    return path


N = ["--n", "7B", "--tokens", "4T"]
EVAL = ["--task", "piqa", "--run-name", "x-1xC", "--params", "1M", "--batch-tokens", "1M"]

# (case, argv with {in} for the inputs folder and {out} for an output that must not appear, message)
CASES = [
    ("a ladder file with a header and no rows", ["predict", "--ladder", "{in}/header_only.csv", *N, "--paper",
                                                 "--out", "{out}"], "header_only.csv: has no rows (columns: run, step)"),
    ("describing a file with no rows", ["data", "--ladder", "{in}/header_only.csv"], "header_only.csv: has no rows"),
    ("an output folder that is a file", ["predict", *N, "--paper", "--task", "mmlu", "--out", "{in}/percent.csv"],
     "percent.csv: is a file; give a folder for the outputs"),
    *[(f"{cmd} --out a file", [cmd, "--out", "{in}/percent.csv"], "percent.csv: is a file; give a folder")
      for cmd in ("plan", "data")],
    ("describing a bad ladder with --out", ["data", "--ladder", "{in}/header_only.csv", "--out", "{out}"],
     "header_only.csv: has no rows"),
    ("a plan's progress from a bad ladder with --out", ["plan", "--ladder", "{in}/header_only.csv", "--out", "{out}"],
     "header_only.csv: has no rows"),
    ("an unknown table", ["data", "--ladder", "{in}/unknown.csv"], "unknown.csv: not a table taskladder reads"),
    # an output file given as a folder (pathlib drops the trailing '/': it would be written as a file)
    *[(f"{argv[0]} {opt} DIR/", [*argv, opt, "{out}/"], "deeper/ ends with '/', a folder: give a file name") for argv, opt in (
        (["report"], "--out"), (["export"], "--out"), (["data"], "--export"),
        (["evaluate", "{in}/empty/step100", "--task", "piqa"], "--out"))],
    # values outside their range
    ("accuracy in percent", ["predict", "--ladder", "{in}/percent.csv", *N, "--paper", "--out", "{out}"],
     "column 'value' row"),
    ("accuracy in percent, wide", ["predict", "--ladder", "{in}/wide", *N, "--paper"],
     "'eval/downstream/piqa_val_rc_5shot_len_norm' row 2"),
    ("negative accuracy", ["predict", "--ladder", "{in}/negative_acc.csv", *N, "--paper"], "must lie in [0, 1]"),
    ("accuracy above 1", ["predict", "--ladder", "{in}/acc_above_1.csv", *N, "--paper"], "must lie in [0, 1]"),
    ("zero loss", ["predict", "--ladder", "{in}/zero_loss.csv", *N, "--paper"], "a loss must be positive"),
    ("impossible prediction", ["predict", "--n", "1", "--tokens", "1T", "--task", "arc_easy", "--out", "{out}"],
     "is outside [0, 1]"),
    # so far below the ladder that the interval's variance passes float range (was an OverflowError)
    ("a variance past float range", ["predict", "--n", "1", "--tokens", "4T", "--task", "arc_easy"], "is outside [0, 1]"),
    ("reach along targets below the ladder", ["reach", "--accuracy", "60", "--n", "1", "--out", "{out}"],
     "every target of that family lies below the ladder"),
    ("reach with two goals for a task", ["reach", "--accuracy", "60,70", "--out", "{out}"], "two goals for mmlu"),
    # counts
    ("n 1e30", ["predict", "--n", "1e30", "--tokens", "4T", "--paper"], "'1e30' is too large"),
    ("n 1e400", ["predict", "--n", "1e400", "--tokens", "4T"], "'1e400' is too large"),
    ("tokens 1e400", ["predict", "--n", "7B", "--tokens", "1e400"], "'1e400' is too large"),
    ("negative n", ["predict", "--n", "-5", "--tokens", "4T"], "must be positive, got '-5'"),
    ("plan target-n 1e400", ["plan", "--target-n", "1e400"], "'1e400' is too large"),
    # --n and --tokens are plan's aliases, as in predict: the error names the option either way
    ("plan n -1", ["plan", "--n", "-1", "--tokens", "4T"], "--target-n (--n): must be positive, got '-1'"),
    ("plan tokens abc", ["plan", "--tokens", "abc"], "--target-tokens (--tokens): 'abc' is not a number"),
    ("forecast of two targets", ["forecast", "--target", "7B-4T", "--target", "13B-5T", "--out", "{out}"],
     "forecast follows one run: give one --target (got 7B-4T, 13B-5T)"),
    ("plan multiple nan", ["plan", "--multiples", "1,nan"], "must be positive and finite, got nan"),
    ("plan multiple inf", ["plan", "--multiples", "inf"], "must be positive and finite, got inf"),
    ("plan size twice", ["plan", "--sizes", "190M,370M,190M"], "size 190M is given twice"),
    ("size table with a negative n", ["predict", "--ladder", "{in}/no_n.csv", "--sizes", "{in}/sizes_negative.csv", *N,
                                      "--paper", "--out", "{out}"], "column 'n' row 2: '-190354176' is not a positive"),
    ("an empty run name", ["predict", "--ladder", "{in}/empty_run.csv", *N, "--paper", "--out", "{out}"],
     "empty_run.csv: column 'run' row 8: empty"),
    ("size table naming a size twice", ["predict", "--ladder", "{in}/no_n.csv", "--sizes", "{in}/sizes_twice.csv", *N,
                                        "--paper", "--out", "{out}"],
     "sizes_twice.csv: size '190M' has two values of 'n': 190354176 (row 2) and 5 (row 6)"),
    ("plan multiple twice", ["plan", "--multiples", "1,2,1.0"], "Chinchilla multiple 1 is given twice"),
    ("sweep of unequal lists", ["predict", "--n", "3B,7B", "--tokens", "4T,5T,6T", "--out", "{out}"],
     "--n gives 2 values and --tokens 3"),
    ("sweep with an empty count", ["predict", "--n", "3B,,7B", "--tokens", "4T"], "--n: '' is not a number"),
    ("sweep with one --name", ["predict", "--n", "3B,7B", "--tokens", "4T", "--name", "x"], "--name labels one target"),
    ("sweep with a target file", ["predict", "--target-file", "{in}/two_checkpoints.csv", "--n", "3B,7B"],
     "a target file is one target"),
    # one N and one set of actuals: two runs' logs would be mixed into one target's
    ("target file of two runs", ["predict", "--target-file", "{in}/two_runs.csv", "--paper", "--out", "{out}"],
     "two_runs.csv: holds 2 runs (1B-10xC, 760M-10xC); a target file holds one"),
    ("report target file of two runs", ["report", "--target-file", "{in}/two_runs.csv", "--out", "{out}/r.html"],
     "two_runs.csv: holds 2 runs"),
    ("forecast target file of two runs", ["forecast", "--target-file", "{in}/two_runs.csv", "--out", "{out}"],
     "two_runs.csv: holds 2 runs (1B-10xC, 760M-10xC); a target file holds one"),
    ("--name on a bundled target", ["predict", "--target", "7B-4T", "--name", "x", "--out", "{out}"],
     "a bundled target keeps its own name"),
    # options that contradict each other: one would be silently dropped
    ("--paper and --design", ["predict", *N, "--paper", "--design", "c4", "--out", "{out}"],
     "--paper and --design each choose the fixed pipeline"),
    ("--design and --step1", ["predict", *N, "--design", "c4", "--step1", "flops"],
     "--design and --step1 each choose"),
    ("--level of a fixed pipeline", ["predict", *N, "--paper", "--level", "0.5", "--out", "{out}"],
     "--paper (a fixed pipeline) gives no interval"),
    ("empty task", ["predict", *N, "--paper", "--task", ""], "--task: no task named"),
    ("300-character file name", ["predict", "--ladder", "{in}/" + "x" * 300 + ".csv", *N], "File name too long"),
    # outputs
    ("report into a folder", ["report", "--out", "{in}"], "is a folder; give a file name"),
    ("export into a folder", ["data", "--export", "{in}"], "is a folder; give a file name"),
    ("data export of unknown format", ["data", "--export", "{out}/ladder.xlsx"], "unknown export format '.xlsx'"),
    ("export of unknown format", ["export", "--out", "{out}/ladder.txt"], "unknown export format '.txt'"),
    ("bad target with --out", ["predict", "--target", "70B", "--out", "{out}"], "unknown target '70B'"),
    ("backtest --calibration with --level", ["backtest", "--calibration", "--level", "0.8", "--out", "{out}"],
     "--level sets the plain backtest"),
    ("backtest level 1.5", ["backtest", "--level", "1.5", "--out", "{out}"],
     "--level must be a fraction between 0 and 1 or a percentage (90 or 90%), got '1.5'"),
    ("forecast level 1", ["forecast", "--target", "7B-4T", "--level", "1", "--out", "{out}"],
     "--level must be a fraction between 0 and 1 or a percentage (90 or 90%), got '1'"),
    ("compare level 100%", ["compare", "{in}/ladder.csv", "{in}/ladder.csv", *N, "--level", "100%", "--out", "{out}"],
     "--level must be a fraction between 0 and 1 or a percentage (90 or 90%), got '100%'"),
    ("forecast from a 2-checkpoint log",
     ["forecast", "--target-file", "{in}/two_checkpoints.csv", "--n", "190M", "--tokens", "4B", "--task", "piqa",
      "--out", "{out}"], "checkpoint(s) past step 0 with both task loss and accuracy"),
    ("forecast a bundled target with another N", ["forecast", "--target", "7B-4T", "--n", "3B", "--out", "{out}"],
     "--n goes with --target-file"),
    ("forecast cut beyond the log", ["forecast", "--target", "7B-4T", "--upto", "1.5", "--out", "{out}"],
     "beyond the log"),
    # click's own errors: one line, not a box
    ("unknown option", ["predict", "--bogus"], "No such option: --bogus"),
    ("missing value", ["predict", "--n"], "requires an argument"),
    ("value of the wrong type", ["predict", "--level", "abc", *N], "--level must be a number, got 'abc'"),
    ("value of the wrong type for click", ["backtest", "--holdout", "abc"], "Invalid value for '--holdout'"),
    ("unknown command", ["nocommand"], "No such command 'nocommand'"),
    # messages that help
    ("automatic choice on 7 runs", ["predict", "--ladder", "{in}/seven_runs.csv", *N, "--task", "piqa"],
     "uses one fixed pipeline"),
    # training and evaluation
    ("train max-steps -1", ["train", "--preset", "tiny", "--max-steps=-1", "--out", "{out}"],
     "max steps must be at least 1"),
    ("train with a negative seed", ["train", "--preset", "tiny", "--seed", "-1", "--out", "{out}"],
     "seed must be a non-negative integer, got -1"),
    ("run with a negative seed", ["run", "--preset", "tiny", "--seed", "-1", "--out", "{out}"],
     "seed must be a non-negative integer, got -1"),
    ("train on a machine without a GPU", ["train", "--preset", "tiny", "--device", "cuda", "--out", "{out}"],
     "no CUDA GPU is available here"),
    ("train on garbage jsonl", ["train", "--preset", "tiny", "--corpus", "{in}/garbage.jsonl", "--out", "{out}"],
     "line 1: expected a JSON object"),
    ("train on garbage parquet", ["train", "--preset", "tiny", "--corpus", "{in}/garbage.parquet", "--out", "{out}"],
     "cannot be read as Parquet"),
    ("evaluate --heldout-name without --heldout",
     ["evaluate", "{in}/empty/step100", "--out", "{out}/r.parquet", *EVAL, "--heldout-name", "wiki"],
     "--heldout-name names the loss on a --heldout text file"),
    ("evaluate limit 0", ["evaluate", "{in}/empty/step100", "--out", "{out}/r.parquet", *EVAL, "--limit", "0"],
     "--limit must be at least 1"),
    ("evaluate a garbage config", ["evaluate", "{in}/broken/step100", "--out", "{out}/r.parquet", *EVAL],
     "not a usable model config"),
    ("evaluate an empty config", ["evaluate", "{in}/empty/step100", "--out", "{out}/r.parquet", *EVAL],
     "not a usable model config"),
    ("evaluate a BERT checkpoint", ["evaluate", "{in}/bert/step100", "--out", "{out}/r.parquet", *EVAL],
     "BertForMaskedLM is not a causal language model"),
    ("evaluate into a text file", ["evaluate", "{in}/empty/step100", "--out", "{out}/r.txt", *EVAL],
     "r.txt: a results table is written as .parquet or .csv, not '.txt'"),
    ("evaluate in fp8", ["evaluate", "{in}/empty/step100", "--out", "{out}/r.parquet", *EVAL, "--dtype", "fp8"],
     "unknown dtype 'fp8'; choose float32, bfloat16, float16"),
    ("evaluate on a machine without a GPU",
     ["evaluate", "{in}/empty/step100", "--out", "{out}/r.parquet", *EVAL, "--device", "cuda"],
     "no CUDA GPU is available here"),
]


@pytest.mark.parametrize("case, argv, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(inputs, tmp_path, case, argv, message):
    if case == "evaluate a BERT checkpoint":
        pytest.importorskip("transformers")
        _bert(inputs)
    if "no CUDA GPU" in message:
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    work = tmp_path / "cwd"
    work.mkdir()
    out = tmp_path / "out" / "deeper"
    args = [a.replace("{in}", str(inputs)).replace("{out}", str(out)) for a in argv]
    before = sorted(p.name for p in inputs.rglob("*"))
    r = run_cli(*args, cwd=work)
    lines = r.stderr.splitlines()  # one line: no blank line before or after it
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert message in lines[0], lines[0]
    assert not (tmp_path / "out").exists(), "a failed command left its output folder"
    assert list(work.iterdir()) == [], "a failed command left files in the working folder"
    assert sorted(p.name for p in inputs.rglob("*")) == before, "a failed command left files beside its inputs"


def test_below_the_ladder_is_predicted_with_a_warning(tmp_path):
    r = run_cli("predict", "--n", "100M", "--tokens", "1T", "--paper", "--task", "mmlu", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert 0 < obj["predictions"][0]["predicted"] < 1
    assert len(obj["notes"]) == 1 and "below the ladder" in obj["notes"][0]


def test_report_on_a_ladder_without_taskce_skips_that_design(inputs, tmp_path):
    out = tmp_path / "r.html"
    r = run_cli("report", "--ladder", inputs / "no_taskce.csv", "--n", "7B", "--tokens", "4T", "--task", "piqa",
                "--out", out)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "task_bpb · " in text and "taskce · " not in text
    assert "Not shown: taskce (the ladder lacks TaskCE for some task)." in text


def test_report_on_a_six_run_ladder_leaves_out_what_needs_more_runs(tmp_path):
    # 3 sizes x 2 multiples: too few runs for the single step (7 parameters), for the automatic
    # choice (10) and for step 1 on the smaller rung subsets of the compute-vs-error section (5)
    lad = olmo2_ladder().ladder
    lad[lad["run"].str.match(r"(370M|760M|1B)-(2|10)xC")].to_csv(tmp_path / "six.csv", index=False)
    out = tmp_path / "r.html"
    r = run_cli("report", "--ladder", tmp_path / "six.csv", "--target", "7B-4T", "--task", "piqa", "--out", out)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "Not shown: single_step (fewer runs with accuracy than its 7 parameters)." in text
    assert "task_bpb · 7B-4T" in text and "single_step · " not in text
    assert "needs at least 10 runs; this ladder has 6" in text
    assert "Prediction error vs ladder compute" in text
    from taskladder.analyses import compute_vs_error
    from taskladder.datasets import bundled_targets

    cv = compute_vs_error(lad[lad["run"].str.match(r"(370M|760M|1B)-(2|10)xC")], [bundled_targets()["7B-4T"]], ["piqa"])
    assert cv["subset"].tolist() == ["≤ 1B", "≤ 10xC"] and cv["runs"].tolist() == [6, 6]  # 4 and 3 runs left out


def test_help_is_plain_without_bool_metavars_or_rst():
    for cmd in ("predict", "reproduce", "forecast", "train", "evaluate"):
        r = run_cli(cmd, "--help")
        assert r.returncode == 0 and "<bool>" not in r.stdout and "``" not in r.stdout, cmd
        assert "--json" in r.stdout or cmd in ("train", "evaluate")
    r = run_cli()
    assert r.returncode == 0 and "Commands:" in r.stdout


def test_ctrl_c_during_reproduce_is_one_line_and_leaves_no_files(tmp_path):
    out = tmp_path / "rep"
    # --no-cache: the fits take ~15 s, so the signal lands inside them, before any file is written
    # A shell's background job (e.g. CI started with `cmd &`) ignores SIGINT and its children
    # inherit that, so Python would never raise KeyboardInterrupt: start the child as a terminal would
    proc = subprocess.Popen([sys.executable, "-m", "taskladder.cli", "reproduce", "--no-cache", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["taskladder: interrupted"], err
    assert not out.exists() or list(out.iterdir()) == []
