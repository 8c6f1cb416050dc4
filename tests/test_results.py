"""Readers of wide (OLMo / W&B) and long files, and the bundled data."""

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, SHARED

from taskladder.chain import Ladder, moving_average
from taskladder.datasets import olmo2_ladder
from taskladder.errors import TaskladderError
from taskladder.results import COLUMNS, read_long, read_results, read_wide
from taskladder.tasks import ALL_TASKS, MMLU_WEIGHTS, OLMO_COLUMNS, PAPER_TASKS, REGISTRY, wide_columns


def test_wide_reader_on_a_real_export():
    raw = pd.read_csv(DATA / "190M-1xC.csv")
    df = read_wide(DATA / "190M-1xC.csv")
    assert list(df.columns) == COLUMNS
    assert set(df["run"]) == {"190M-1xC"} and set(df["size"]) == {"190M"}
    assert set(df["n"]) == {190_354_176}
    # D = _step x batch_size_in_tokens
    last = df[(df.task == "hellaswag") & (df.metric == "bpb")].iloc[-1]
    assert last["step"] == 7272 and last["d"] == 7272 * 524_288
    assert last["value"] == raw["eval/downstream_bpb/hellaswag_val_rc_5shot_bpb"].iloc[-1]
    # MMLU is the weighted mean of its four test categories
    row = raw.iloc[-1]
    want = sum(w * row[f"eval/downstream/mmlu_{c}_test_rc_5shot_len_norm"] for c, w in MMLU_WEIGHTS.items())
    got = df[(df.task == "mmlu") & (df.metric == "acc")]["value"].iloc[-1]
    assert got == pytest.approx(want / sum(MMLU_WEIGHTS.values()), abs=1e-12)
    # TaskCE is the negated soft_log column
    ce = df[(df.task == "piqa") & (df.metric == "taskce")]["value"].iloc[0]
    assert ce == pytest.approx(-raw["eval/downstream_soft_log/piqa_val_rc_5shot_soft_log"].iloc[0])
    # C4 loss is an lm_loss row
    c4 = df[(df.task == "c4_en") & (df.metric == "lm_loss")]["value"]
    assert c4.iloc[-1] == raw["eval/c4_en-validation/CrossEntropyLoss"].iloc[-1]


def test_wide_final_checkpoint_exports_without_a_step_column(tmp_path):
    # a one-row export of the final checkpoint: D from 'throughput/total_tokens', the step from it
    # and the batch size; without a batch size the rows are numbered
    raw = pd.read_csv(DATA / "190M-1xC.csv")
    last = raw.iloc[[-1]].drop(columns="_step").assign(**{"throughput/total_tokens": 3_812_622_336})
    last.to_csv(tmp_path / "190M-1xC.csv", index=False)
    df = read_wide(tmp_path / "190M-1xC.csv")
    assert set(df["d"]) == {3_812_622_336} and set(df["step"]) == {3_812_622_336 // 524_288}
    last.drop(columns="batch_size_in_tokens").to_csv(tmp_path / "190M-1xC.csv", index=False)
    assert set(read_wide(tmp_path / "190M-1xC.csv")["step"]) == {0}


def test_long_format_round_trip(tmp_path):
    df = read_wide(DATA / "190M-1xC.csv")
    long = df.drop(columns=["n", "d"]).assign(batch_tokens=524_288)
    p = tmp_path / "mine.parquet"
    long.to_parquet(p)
    back = read_long(p, sizes={"190M": 190_354_176})
    pd.testing.assert_frame_equal(back, df)
    # read_results detects the format from the columns
    pd.testing.assert_frame_equal(read_results([p], sizes={"190M": 190_354_176}), df)


def test_text_tables_as_spreadsheets_save_them(tmp_path):
    """A ladder saved by a spreadsheet under a European locale (semicolons), as tab-separated
    text (named .csv or .tsv), with Excel's byte-order mark or gzipped reads as the comma CSV
    does; read as one column, a semicolon file looked like a wide log of a run named after it."""
    from taskladder.discover import expand

    df = read_wide(DATA / "190M-1xC.csv")
    ref = tmp_path / "ref.csv"
    df.to_csv(ref, index=False)
    want = read_results([ref])
    forms = {"semi.csv": dict(sep=";"), "tabs.csv": dict(sep="\t"), "l.tsv": dict(sep="\t"),
             "bom.csv": dict(encoding="utf-8-sig"), "l.csv.gz": {}, "l.tsv.gz": dict(sep="\t"),
             "bom_semi.csv": dict(sep=";", encoding="utf-8-sig")}
    for name, kw in forms.items():
        d = tmp_path / name.replace(".", "_")
        d.mkdir()
        df.to_csv(d / name, index=False, **kw)
        assert expand([d]) == [d / name]  # found in a folder too
        pd.testing.assert_frame_equal(read_results([d]), want, check_like=True)
    # decimal commas, as such a spreadsheet writes numbers: named
    df.to_csv(tmp_path / "dec.csv", index=False, sep=";", decimal=",")
    with pytest.raises(TaskladderError, match=r"dec.csv: column 'value' row 2: '[0-9]+,[0-9]+' is not a finite "
                                              r"number \(a decimal comma\? save the table with decimal points\)"):
        read_results([tmp_path / "dec.csv"])


def _write(tmp_path, df, name="bad.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.drop(columns=["_step", "throughput/total_tokens"]), "missing column '_step'"),
    (lambda d: d.assign(**{"eval/downstream_bpb/piqa_val_rc_5shot_bpb": np.r_[np.nan, d["eval/downstream_bpb/piqa_val_rc_5shot_bpb"].iloc[1:]]}),
     "column 'eval/downstream_bpb/piqa_val_rc_5shot_bpb' row 2: 'nan' is not a finite number"),
    (lambda d: d.assign(_step=d["_step"][::-1].to_numpy()), "steps must increase"),
    (lambda d: d.assign(batch_size_in_tokens="inf"), "is not a finite number"),
])
def test_wide_reader_rejects_bad_input(tmp_path, mutate, message):
    raw = pd.read_csv(DATA / "190M-1xC.csv")
    p = _write(tmp_path, mutate(raw), "190M-1xC.csv")
    with pytest.raises(TaskladderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_wide(p)


def test_unknown_size_needs_n(tmp_path):
    raw = pd.read_csv(DATA / "190M-1xC.csv")
    p = _write(tmp_path, raw, "42M-1xC.csv")
    with pytest.raises(TaskladderError, match="no parameter count N for run '42M-1xC'; give --sizes FILE"):
        read_wide(p)
    assert read_wide(p, sizes={"42M": 42_000_000})["n"].iloc[0] == 42_000_000
    # a rerun or seed suffix keeps the size: its N comes from the same row
    p2 = _write(tmp_path, raw, "42M-1xC-rerun.csv")
    assert read_wide(p2, sizes={"42M": 42_000_000})["n"].iloc[0] == 42_000_000


def test_wide_logs_of_several_runs_in_one_file(tmp_path):
    """A 'run' column names each row's run (W&B histories of a ladder concatenated); without one
    the file's name is the run, and a file named by W&B says so."""
    from taskladder.results import read_results

    raw = pd.read_csv(DATA / "190M-1xC.csv")
    one = _write(tmp_path, raw, "190M-1xC.csv")
    two = _write(tmp_path, raw, "190M-2xC.csv")
    both = _write(tmp_path, pd.concat([raw.assign(run="190M-1xC"), raw.assign(run="190M-2xC")]), "wandb_export.csv")
    key = ["run", "step", "task", "metric"]
    got = read_results([both]).sort_values(key, ignore_index=True)
    assert got.equals(read_results([one, two]).sort_values(key, ignore_index=True))
    assert got.attrs["convention"] == "olmo"
    gap = pd.concat([raw.assign(run="190M-1xC"), raw.assign(run=None)])
    with pytest.raises(TaskladderError, match=f"column 'run' row {len(raw) + 2}: empty"):
        read_results([_write(tmp_path, gap, "gap.csv")])
    with pytest.raises(TaskladderError, match="no parameter count N for run 'wandb_export_2026-11-23'.*"
                                              "a wide log's run is its file name: name the file after the run"):
        read_results([_write(tmp_path, raw, "wandb_export_2026-11-23.csv")])


def test_run_names_with_suffixes_map_to_their_size():
    from taskladder.results import parse_run_name

    assert parse_run_name("190M-1xC-rerun") == ("190M", 1.0)
    assert parse_run_name("1B-10xC_seed2") == ("1B", 10.0)
    assert parse_run_name("190M-0.5xC") == ("190M", 0.5)
    assert parse_run_name("1B_10xC") == ("1B", 10.0) and parse_run_name("370m-2xc") == ("370m", 2.0)
    assert parse_run_name("olmo2-1B-5xC-seed2") == ("olmo2-1B", 5.0) and parse_run_name("1B-10x") == ("1B-10x", None)
    assert parse_run_name("mymodel") == ("mymodel", None)


def test_long_reader_errors(tmp_path):
    base = pd.DataFrame({"run": ["r-1xC"] * 2, "step": [1, 2], "task": "piqa", "metric": "bpb",
                         "value": [1.0, 0.9], "n": 1e8, "d": [1e9, 2e9]})
    with pytest.raises(TaskladderError, match="missing column 'value'"):
        read_long(_write(tmp_path, base.drop(columns=["value"])))
    with pytest.raises(TaskladderError, match="unknown metric 'accuracy'"):
        read_long(_write(tmp_path, base.assign(metric="accuracy")))
    with pytest.raises(TaskladderError, match="missing column 'd'"):
        read_long(_write(tmp_path, base.drop(columns=["d"])))
    # headers in any case, with spaces, as a table typed or exported by hand has them
    caps = base.rename(columns={"run": "Run", "step": " Step", "task": "TASK", "metric": "Metric", "d": "D"})
    assert read_long(_write(tmp_path, caps)).equals(read_long(_write(tmp_path, base)))
    # rows in any order; a step twice, or fewer tokens at a later step, is refused
    assert read_long(_write(tmp_path, base.iloc[::-1])).equals(read_long(_write(tmp_path, base)))
    with pytest.raises(TaskladderError, match=r"\(run 'r-1xC', task 'piqa', metric 'bpb'\) step 1 appears twice"):
        read_long(_write(tmp_path, base.assign(step=[1, 1])))
    with pytest.raises(TaskladderError, match=r"column 'd' \(run 'r-1xC', task 'piqa', metric 'bpb'\): step 2 has "
                                              r"d = 1,000,000,000, fewer tokens than step 1 \(d = 2,000,000,000\)"):
        read_long(_write(tmp_path, base.assign(step=[2, 1])))
    for col in ("run", "task", "metric"):
        with pytest.raises(TaskladderError, match=f"column '{col}' row 3: empty"):
            read_long(_write(tmp_path, base.assign(**{col: [base[col].iloc[0], None]})))
    # an empty size is the run name's, as where the column is absent
    two = pd.concat([base, base.assign(run="190M-2xC")], ignore_index=True).assign(size=["mine", None, "", "190M"])
    assert read_long(_write(tmp_path, two))["size"].tolist() == ["mine", "r", "190M", "190M"]


def test_an_unparsable_table_names_the_file_and_the_parsers_first_line(tmp_path):
    # pandas' ParserError ends in a newline: the message keeps its closing parenthesis
    bad = tmp_path / "ladder.csv"
    bad.write_text("run,step\n1,2\n1,2,3,4\n")
    with pytest.raises(TaskladderError) as e:
        read_results(bad)
    assert str(e.value) == (f"{bad}: cannot be read as a table (ParserError: Error tokenizing data. C error: "
                            "Expected 2 fields in line 3, saw 4)")


def test_a_table_of_unknown_columns_is_told_what_is_read_not_asked_for_n(tmp_path):
    # before: "no parameter count N for run 'scores'", as if it were an OLMo log missing its size
    p = _write(tmp_path, pd.DataFrame({"model": ["a"], "score": [0.5]}), "scores.csv")
    with pytest.raises(TaskladderError, match=r"scores.csv: not a table taskladder reads \(columns: model, score\): "
                                              r"a long table has columns run, step, task, metric, value, n, d; "
                                              r"a wide log has OLMo's _step"):
        read_results(p)


def test_a_wrapped_cause_is_one_line():
    from taskladder.errors import cause

    assert cause(ValueError("\n  first\n\nsecond\n")) == "ValueError: first second"
    assert cause(ValueError("x" * 400)) == "ValueError: " + "x" * 297 + "..."
    assert cause(OSError()) == "OSError"
    assert cause(KeyError("doc"), named=False) == "'doc'"
    assert cause(Exception(""), named=False) == "Exception"


def test_moving_average_matches_hand_computation():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert moving_average(x, 3).tolist() == [1.0, 1.5, 2.0, 3.0, 4.0, 5.0]


def test_bundled_data_shape_and_targets():
    d = olmo2_ladder()
    assert d.ladder["run"].nunique() == 16
    assert set(d.ladder["n"]) == {190_354_176, 371_262_464, 758_220_288, 1_279_395_840}
    t7, t13 = d.targets["7B-4T"], d.targets["13B-5T"]
    assert (t7.n, t7.d) == (6_887_575_552, 3_945_065_873_408)
    assert (t13.n, t13.d) == (13_202_396_160, 5_000_088_518_656)
    assert t13.full is not None and t13.full["step"].max() == 596_057
    lad = Ladder(d.ladder)
    assert set(PAPER_TASKS) <= set(lad.tasks)


def test_bundled_data_equals_the_source_csvs():
    # The repo keeps one source CSV unmodified (tests/data/190M-1xC.csv), so this runs in any
    # clone; with the shared data beside the repo, all 16 runs are compared.
    d = olmo2_ladder()
    files = sorted((SHARED / "ladder").glob("*.csv")) if SHARED.exists() else [DATA / "190M-1xC.csv"]
    assert files
    for f in files:
        want = read_wide(f)
        got = d.ladder[d.ladder["run"] == f.stem].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_like=False)
    if SHARED.exists():  # the targets, with the MC-format accuracy no ladder run logs
        for run, fname, n in (("7B-4T", "peteish7_eval_anneal.csv", 6_887_575_552),
                              ("13B-5T", "peteish13_eval_final.csv", 13_202_396_160)):
            want = read_wide(SHARED / "targets" / fname, run=run, n=n)
            pd.testing.assert_frame_equal(d.targets[run].results.reset_index(drop=True), want)
            assert "mc_acc" in set(want["metric"])


def test_every_registry_column_is_in_olmos_real_log():
    # the 7B target's real header (tests/data/NOTICE.md): every column the registry reads for
    # OLMo's logs exists there, with its logged normalisation (MMLU's MC accuracy is len_norm)
    header = set((DATA / "peteish7_eval_anneal.header.csv").read_text().strip().split(","))
    for name in ALL_TASKS:
        for metric in OLMO_COLUMNS:
            cols = wide_columns(REGISTRY[name], metric)
            assert cols and all(c in header for c, _ in cols), (name, metric)
            assert sum(w for _, w in cols) == pytest.approx(1.0)
    assert ("eval/downstream/mmlu_stem_test_mc_5shot_len_norm", 0.215) in wide_columns(REGISTRY["mmlu"], "mc_acc")


def test_bundled_data_loads_without_the_parquet_reader():
    # pyarrow's Parquet reader adds ~50 MB of resident memory, which every forked fitting
    # worker inherits (docs/speed.md): the bundled table is a gzipped CSV
    import subprocess
    import sys

    code = ("import sys; from taskladder.datasets import olmo2_ladder; d = olmo2_ladder(); "
            "print(len(d.ladder), 'pyarrow.parquet' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["64206", "False"]


def test_ladder_series_names_from_codes():
    # the index keeps run and size as integer codes: each series gets its own names back,
    # whatever the row order, and a missing size reads "nan" as it always did
    rows = [("b-run", "370M", 370, d, "t", "acc", 0.3 + d / 1e4) for d in (20, 10)]
    rows += [("a-run", None, 190, d, "t", "acc", 0.2 + d / 1e4) for d in (30, 10, 20)]
    df = pd.DataFrame(rows, columns=["run", "size", "n", "d", "task", "metric", "value"]).assign(step=lambda x: x["d"])
    got = {s.run: (s.size, s.n, s.d.tolist(), s.value.tolist()) for s in Ladder(df).series("t", "acc")}
    assert got == {"a-run": ("nan", 190, [10.0, 20.0, 30.0], [0.201, 0.202, 0.203]),
                   "b-run": ("370M", 370, [10.0, 20.0], [0.301, 0.302])}


def test_a_full_disk_is_one_clear_error_and_leaves_no_temp_file(tmp_path, monkeypatch):
    import errno
    import os

    from taskladder import io
    from taskladder.errors import TaskladderError

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(io, "publish", full)
    with pytest.raises(TaskladderError, match=r"out.json: cannot write \(No space left on device\)"):
        io.write_json(tmp_path / "out.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_bundled_data_is_split_once_and_each_caller_gets_its_own_copy():
    a, b = olmo2_ladder(), olmo2_ladder()
    a.ladder.loc[0, "value"] = -5.0
    a.ladder["extra"] = 1
    a.targets["7B-4T"].results.loc[0, "value"] = -5.0
    assert b.ladder.loc[0, "value"] > 0 and "extra" not in b.ladder
    assert olmo2_ladder().targets["7B-4T"].results.loc[0, "value"] > 0
    assert b.ladder.attrs["convention"] == "olmo"


def test_a_compact_target_has_the_same_actuals_without_tables():
    t = olmo2_ladder().targets["13B-5T"]
    c = t.compact()
    assert c.results is None and c.full is None and (c.n, c.d, c.convention) == (t.n, t.d, "olmo")
    for task in PAPER_TASKS:
        for metric in ("acc", "bpb"):
            assert c.actual(task, metric) == t.actual(task, metric)
    # 13B-5T keeps its last 12 checkpoints: a window of 3 is the mean of the last 3 of them
    last3 = t.results[(t.results["task"] == "mmlu") & (t.results["metric"] == "acc")].sort_values("step")["value"]
    assert c.actual("mmlu", window=3) == pytest.approx(last3.iloc[-3:].mean(), abs=1e-15)
    assert c.actual("no_such_task") is None


@pytest.mark.parametrize("bad, match", [
    ({"feature": "loss"}, "unknown feature 'loss'"), ({"compute": "6n"}, "unknown compute '6n'"),
    ({"step1": "c"}, "unknown step-1 law 'c'"), ({"step2": "tanh"}, "unknown step-2 law 'tanh'"),
    ({"final_window": 0}, "at least 1"), ({"smooth_window": 0}, "at least 1"),
    ({"n_starts": -1}, "n_starts must be >= 0"), ({"skip_frac": 1.0}, r"skip_frac must be in \[0, 1\)"),
    ({"skip_frac": -0.1}, "skip_frac must be in"),
])
def test_chain_config_refuses_bad_values_when_made(bad, match):
    from taskladder.chain import ChainConfig

    with pytest.raises(TaskladderError, match=match):
        ChainConfig(**bad)
    assert ChainConfig(skip_frac=0.0, final_window=1, smooth_window=1, n_starts=0).skip_frac == 0.0


def test_accuracy_noise_is_the_median_runs_sd_over_its_last_ten_checkpoints():
    # the SD a target's "actual" carries (trust.DesignModel.ckpt_sd_): per run, np.std of the last
    # 10 accuracies (population SD); the median over runs with 3 checkpoints or more
    runs = {"a": [0.9, 0.1] + [0.30, 0.32] * 5,  # last ten: SD 0.01 (the first two are left out)
            "b": [0.0, 0.0] + [0.50, 0.56] * 5,  # 0.03
            "c": [0.0, 1.0] + [0.40, 0.48] * 5,  # 0.04
            "d": [0.2, 0.9]}  # too short to count
    rows = [(r, "s", 100, 10 * (i + 1), i + 1, "t", "acc", v) for r, vs in runs.items() for i, v in enumerate(vs)]
    lad = Ladder(pd.DataFrame(rows, columns=COLUMNS))
    assert lad.accuracy_noise("t") == pytest.approx(0.03, abs=1e-12)


def test_ladder_span_of_the_bundled_ladder():
    from taskladder.chain import ladder_span

    lad = olmo2_ladder().ladder
    span = ladder_span(lad)
    final_d = lad.groupby("run")["d"].max()
    assert span.n_min == 190_354_176 and span.d_min == final_d.min() == final_d["190M-1xC"]
    tpp = final_d / lad.groupby("run")["n"].first()
    assert (span.tpp_min, span.tpp_max) == (tpp.min(), tpp.max()) and 19 < tpp.min() < 21 and 190 < tpp.max() < 210


def test_size_tables_typed_by_hand(tmp_path):
    """Headers in any case with spaces, names with spaces, counts written as on the command line."""
    from taskladder.results import load_sizes

    p = tmp_path / "sizes.csv"
    p.write_text("Size, N ,Batch_Tokens\n190M , 190.354176M,4194304\n370M,371262464,4.194304M\n")
    t = load_sizes(p)
    assert dict(t) == {"190M": 190_354_176, "370M": 371_262_464}
    assert t.batch_tokens == {"190M": 4_194_304, "370M": 4_194_304}
    p.write_text("size;n\n190M;190354176\n")  # a spreadsheet's semicolons: read as commas are
    assert dict(load_sizes(p)) == {"190M": 190_354_176}
    p.write_text("size|n\n190M|190354176\n")  # another separator: the columns found are named
    with pytest.raises(TaskladderError, match="needs columns 'size' \\(or 'run'\\) and 'n'; found 'size\\|n'"):
        load_sizes(p)
    p.write_text("size,n\n190M,190 million\n")
    with pytest.raises(TaskladderError, match="column 'n' row 2: '190 million' is not a positive number"):
        load_sizes(p)
    # a ladder log given as the size table by mistake: its first columns and how many more, in one short line
    with pytest.raises(TaskladderError) as e:
        load_sizes(DATA / "190M-1xC.csv")
    assert str(e.value).endswith("'eval/dolma_reddit-validation/crossentropyloss' and 91 more") and len(str(e.value)) < 400


def test_size_tables_refuse_a_zero_count_and_a_runs_row_beats_its_sizes(tmp_path):
    from taskladder.results import load_sizes, resolve_n

    p = tmp_path / "sizes.csv"
    p.write_text("size,n\n190M,0\n")
    with pytest.raises(TaskladderError, match="column 'n' row 2: '0' is not a positive number"):
        load_sizes(p)
    table = {"190M": 190_354_176, "190M-5xC": 190_000_000}  # one run of another width, named by its run
    assert resolve_n(p, "190M-5xC", "190M", None, table) == 190_000_000
    assert resolve_n(p, "190M-1xC", "190M", None, table) == 190_354_176
    assert resolve_n(p, "190M-5xC", "190M", 7, table) == 7  # an explicit N beats both


def test_long_tables_by_hand_checks(tmp_path):
    """The long reader's rules at their edges: N > 0 and D >= 0 (step 0 has seen no tokens), tokens
    one fewer at a later step refused, an accuracy of 50 said to look like a percentage (150 not),
    a blank-looking run name empty, one convention per table, runs kept together in the order
    they first appear whatever the rows' order."""
    base = pd.DataFrame({"run": ["r-1xC"] * 2, "step": [0, 2], "task": "piqa", "metric": "bpb",
                         "value": [1.0, 0.9], "n": 1e8, "d": [0, 2e9]})
    assert read_long(_write(tmp_path, base))["d"].tolist() == [0, 2_000_000_000]
    with pytest.raises(TaskladderError, match="column 'n' row 2: must be positive"):
        read_long(_write(tmp_path, base.assign(n=0)))
    with pytest.raises(TaskladderError, match="column 'd' row 3: must be >= 0"):
        read_long(_write(tmp_path, base.assign(d=[0, -1])))
    with pytest.raises(TaskladderError, match="step 2 has d = 999, fewer tokens than step 0 \\(d = 1,000\\)"):
        read_long(_write(tmp_path, base.assign(d=[1000, 999])))
    acc = base.assign(metric="acc")
    with pytest.raises(TaskladderError, match=r"row 3: 50 is out of range: an accuracy must lie in \[0, 1\] "
                                              r"\(a percentage\? give fractions\)$"):
        read_long(_write(tmp_path, acc.assign(value=[0.5, 50])))
    with pytest.raises(TaskladderError, match=r"row 3: 150 is out of range: an accuracy must lie in \[0, 1\]$"):
        read_long(_write(tmp_path, acc.assign(value=[0.5, 150])))
    with pytest.raises(TaskladderError, match="column 'run' row 3: empty"):
        read_long(_write(tmp_path, base.assign(run=["r-1xC", "   "])))
    with pytest.raises(TaskladderError, match="column 'convention' mixes 'olmes' and 'lm_eval'"):
        read_long(_write(tmp_path, base.assign(convention=["olmes", "lm_eval"])))
    # rows of two runs interleaved, latest first: each run's rows together, the first-named run first
    two = pd.concat([base, base.assign(task="hellaswag"), base.assign(run="s-1xC")], ignore_index=True)
    got = read_long(_write(tmp_path, two.iloc[[1, 5, 3, 4, 0, 2]]))  # series: r piqa, s piqa, r hellaswag
    assert list(zip(got["run"], got["task"], got["step"])) == [
        ("r-1xC", "piqa", 0), ("r-1xC", "piqa", 2), ("r-1xC", "hellaswag", 0), ("r-1xC", "hellaswag", 2),
        ("s-1xC", "piqa", 0), ("s-1xC", "piqa", 2)]


def test_wide_logs_refuse_a_step_logged_twice(tmp_path):
    raw = pd.read_csv(DATA / "190M-1xC.csv")
    again = raw.assign(_step=np.r_[raw["_step"].iloc[0], raw["_step"].iloc[:-1]])
    with pytest.raises(TaskladderError, match=f"steps must increase, but {raw['_step'].iloc[0]:g} follows "
                                              f"{raw['_step'].iloc[0]:g}"):
        read_wide(_write(tmp_path, again, "190M-1xC.csv"))
