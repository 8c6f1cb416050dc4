"""Which files a --ladder folder stands for: the readers and the prediction cache's key agree."""

from pathlib import Path

import pytest

from taskladder import discover, serve
from taskladder.errors import TaskladderError


def _touch(p: Path, text: str = "{}") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.fixture
def tree(tmp_path):
    """OUT/ as `lm_eval --output_path OUT/<run>/<step>` and OLMES leave it, with things not to read."""
    out = tmp_path / "OUT"
    for run in ("190M-1xC", "370M-1xC"):
        m = out / run / "step1000" / f"__ck__{run}__step1000"
        _touch(m / "results_2026-11-23T09-00-00.json")
        _touch(m / "samples_toyqa_2026-11-23T09-00-00.jsonl", "{}\n")
    _touch(out / "olmes" / "190M-2xC" / "task-000-arc_easy-metrics.json")
    _touch(out / "olmes" / "190M-2xC" / "task-000-arc_easy-predictions.jsonl", "{}\n")
    _touch(out / "olmo_core" / "190M-5xC" / "metrics_step10.json")
    _touch(out / "olmo_core" / "190M-5xC" / "step10" / "model.pt", "weights")  # a checkpoint: not searched
    _touch(out / "extra.csv", "run,step\n")
    _touch(out / "pred" / "predictions.csv", "task\n")  # below the top: not a ladder table
    _touch(out / ".cache" / "m" / "results_x.json")  # hidden: not searched
    (out / "190M-1xC" / "latest").symlink_to("step1000")
    (out / "370M-1xC" / "loop").symlink_to(out)
    return out


def test_expand_finds_tool_outputs_at_any_depth_and_tables_at_the_top(tree):
    got = [p.relative_to(tree).as_posix() for p in discover.expand([tree])]
    assert got == ["extra.csv", "190M-1xC/latest/__ck__190M-1xC__step1000", "370M-1xC/step1000/__ck__370M-1xC__step1000",
                   "olmes/190M-2xC", "olmo_core/190M-5xC"]
    # a file or folder named again (the folder and a file in it, or one path twice) is read once, where first named
    again = discover.expand([tree / "olmes" / "190M-2xC", tree, tree / "extra.csv", tree / "." / "extra.csv"])
    assert [p.relative_to(tree).as_posix() for p in again] == ["olmes/190M-2xC", "extra.csv", *got[1:3], got[4]]


def test_files_read_are_what_the_readers_open(tree):
    got = [p.relative_to(tree).as_posix() for p in discover.files_read([tree])]
    assert got == ["extra.csv",
                   "190M-1xC/latest/__ck__190M-1xC__step1000/results_2026-11-23T09-00-00.json",
                   "190M-1xC/latest/__ck__190M-1xC__step1000/samples_toyqa_2026-11-23T09-00-00.jsonl",
                   "370M-1xC/step1000/__ck__370M-1xC__step1000/results_2026-11-23T09-00-00.json",
                   "370M-1xC/step1000/__ck__370M-1xC__step1000/samples_toyqa_2026-11-23T09-00-00.jsonl",
                   "olmes/190M-2xC/task-000-arc_easy-metrics.json",
                   "olmes/190M-2xC/task-000-arc_easy-predictions.jsonl",
                   "olmo_core/190M-5xC/metrics_step10.json"]
    # a tool's file given alone is read with what lies beside it
    alone = tree / "olmes" / "190M-2xC" / "task-000-arc_easy-metrics.json"
    assert [p.name for p in discover.files_read([alone])] == [
        "task-000-arc_easy-metrics.json", "task-000-arc_easy-predictions.jsonl"]


def test_the_cache_key_changes_with_a_file_read_and_only_then(tree):
    key = serve._source_hash([tree], None, False)
    _touch(tree / "pred" / "predictions.csv", "task\nmmlu\n")  # a prediction written into the folder
    _touch(tree / "olmo_core" / "190M-5xC" / "step10" / "model.pt", "other weights")
    assert serve._source_hash([tree], None, False) == key
    _touch(tree / "190M-1xC" / "step1000" / "__ck__190M-1xC__step1000" / "samples_toyqa_2026-11-23T09-00-00.jsonl",
           "{}\n{}\n")  # reached through the folder's real path: the link reads the same file
    assert serve._source_hash([tree], None, False) != key


def test_a_folder_with_nothing_to_read_is_named(tmp_path):
    _touch(tmp_path / "empty" / "notes.txt", "x")
    with pytest.raises(TaskladderError, match="empty: folder holds no .csv, .tsv or .parquet files"):
        discover.expand([tmp_path / "empty"])


def test_large_files_are_known_by_size_and_time(tmp_path, monkeypatch):
    """Small files by their bytes; a file over the limit (lm-eval's per-sample logs) by size and
    modification time, so a warm prediction does not read gigabytes to find its key."""
    import os

    small, big = _touch(tmp_path / "a.csv", "x" * 10), _touch(tmp_path / "b.jsonl", "y" * 100)
    monkeypatch.setattr(discover, "HASH_LIMIT", 50)
    fs, fb = discover.fingerprint(small), discover.fingerprint(big)
    st = big.stat()
    big.write_text("z" * 100)  # same size, same time: not read, so not seen (as make would not)
    os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert discover.fingerprint(big) == fb
    os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # written again: seen
    assert discover.fingerprint(big) != fb
    st = small.stat()
    small.write_text("y" * 10)  # a small file's bytes are read: seen at the same size and time
    os.utime(small, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert discover.fingerprint(small) != fs


def test_a_ladder_folder_given_as_its_own_out_still_reads_as_the_ladder(tmp_path):
    """`predict --ladder runs/ --out runs/` wrote predictions.csv into the ladder folder, and the
    next `--ladder runs/` read it as a ladder: "no parameter count N for run 'predictions'"."""
    import json
    import shutil

    from conftest import run_cli

    from taskladder.datasets import olmo2_ladder

    lad = olmo2_ladder().ladder
    runs = tmp_path / "runs"
    runs.mkdir()
    lad[lad["task"] == "piqa"].to_csv(runs / "ladder.csv", index=False)
    args = ["predict", "--paper", "--ladder", runs, "--n", "7B", "--tokens", "4T", "--json"]
    first = run_cli(*args, "--out", runs)
    assert first.returncode == 0, first.stderr
    assert {"predictions.csv", "predictions.parquet", "predict.json"} <= {p.name for p in runs.iterdir()}
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["predictions"] == json.loads(first.stdout)["predictions"]
    assert discover.expand([runs]) == [runs / "ladder.csv"]
    # every command's outputs, each only beside the JSON it writes with them
    for js, stems in discover.OWN_OUTPUTS.items():
        d = tmp_path / js.split(".")[0]
        shutil.copytree(runs, d, ignore=shutil.ignore_patterns("predict*"))
        tables = [_touch(d / f"{s}.{ext}", "x\n") for s in stems for ext in ("csv", "parquet")]
        assert set(discover.expand([d])) == {d / "ladder.csv", *tables}  # without the JSON: tables
        _touch(d / js)
        assert discover.expand([d]) == [d / "ladder.csv"]


def test_names_the_readers_take(tmp_path):
    """Tables by suffix in any case, gzipped text tables; lm-eval's results files by name, its
    samples files never (an older lm-eval wrote them as .json, with the same date stamp)."""
    for name in ("LADDER.CSV", "b.Parquet", "c.tsv", "d.csv.gz", "e.TSV.GZ"):
        assert discover.is_table(tmp_path / name), name
    assert not discover.is_table(tmp_path / "notes.txt") and not discover.is_table(tmp_path / "f.gz")
    stamp = "2026-11-23T09-00-00.123"
    for name, results in ((f"results_{stamp}.json", True), (f"out_{stamp}.json", True),
                          (f"samples_toyqa_{stamp}.json", False), (f"samples_toyqa_{stamp}.jsonl", False)):
        assert bool(discover.LM_EVAL_RESULTS.match(name)) == results, name


def test_lighteval_details_moved_beside_their_results_are_found(tmp_path):
    res = _touch(tmp_path / "OUT" / "results" / "m" / "results_T.json")
    tree = [_touch(tmp_path / "OUT" / "details" / "m" / "T" / "details_a|0_T.parquet", "")]
    beside = [_touch(res.parent / "T" / "details_b|0_T.parquet", ""), _touch(res.parent / "details_c|0_T.parquet", "")]
    assert discover.lighteval_details(res.parent) == tree + beside
