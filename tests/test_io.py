"""Writing results: JSON that any parser reads, files with normal permissions, all or nothing."""

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from taskladder import io
from taskladder.errors import TaskladderError


def test_json_is_strict_and_plain():
    # numpy scalars become Python numbers, NaN/inf/pd.NA become null (json.dumps would write
    # NaN and Infinity, which strict parsers such as JavaScript's JSON.parse refuse), keys strings
    obj = {"n": np.int64(7), np.int64(3): np.float32(0.5), "bad": [np.nan, np.inf, -np.inf, float("nan"), pd.NA, None],
           "t": (np.float64(1.25), "x")}
    text = io.dumps(obj)
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}")) == {
        "n": 7, "3": 0.5, "bad": [None] * 6, "t": [1.25, "x"]}
    assert type(json.loads(text)["n"]) is int


def test_records_of_a_table_are_json_safe():
    df = pd.DataFrame({"task": ["a", "b"], "value": [0.5, np.nan], "k": np.array([1, 2], dtype=np.int64)})
    assert io.records(df) == [{"task": "a", "value": 0.5, "k": 1}, {"task": "b", "value": None, "k": 2}]


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_written_files_follow_the_umask(tmp_path, mask):
    # the temp file mkstemp makes is 0600; the published file gets what open() would give
    old = os.umask(mask)
    try:
        for p in (io.write_json(tmp_path / "a.json", {"a": 1}),
                  io.write_table(tmp_path / "b.csv", pd.DataFrame({"x": [1]}))):
            assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
    finally:
        os.umask(old)


def test_a_table_is_written_in_the_format_its_extension_names(tmp_path):
    df = pd.DataFrame({"task": ["a"], "value": [0.25]})
    pq = io.write_table(tmp_path / "t.parquet", df)
    assert pq.read_bytes()[:4] == b"PAR1" and pd.read_parquet(pq).equals(df)
    assert (tmp_path / "t.csv").exists() is False
    assert io.write_table(tmp_path / "t.csv", df).read_text() == "task,value\na,0.25\n"


def test_staged_outputs_appear_all_together_or_not_at_all(tmp_path):
    out = tmp_path / "out"
    (out).mkdir()
    (out / "old.json").write_text("kept")
    with pytest.raises(RuntimeError):
        with io.staged(out) as tmp:
            (tmp / "a.json").write_text("1")
            raise RuntimeError("failed half way")
    assert sorted(p.name for p in out.iterdir()) == ["old.json"]
    with io.staged(out) as tmp:
        (tmp / "a.json").write_text("1")
        (tmp / "old.json").write_text("new")
        assert (out / "old.json").read_text() == "kept" and not (out / "a.json").exists()  # not yet
    assert {p.name: p.read_text() for p in out.iterdir()} == {"a.json": "1", "old.json": "new"}


def test_created_folders_are_removed_deepest_first_when_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "_CREATED", [])
    io.ensure_writable_dir(tmp_path / "a" / "b" / "c")
    io.ensure_writable_dir(tmp_path / "keep" / "x")
    (tmp_path / "keep" / "file").write_text("mine")
    io.remove_created_dirs()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]  # a/b/c gone; keep/x gone, keep has a file
    assert sorted(p.name for p in (tmp_path / "keep").iterdir()) == ["file"]
    assert io._CREATED == []


def test_an_existing_folder_is_never_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "_CREATED", [])
    (tmp_path / "mine").mkdir()
    io.ensure_writable_dir(tmp_path / "mine" / "new")
    io.remove_created_dirs()
    assert (tmp_path / "mine").is_dir() and not (tmp_path / "mine" / "new").exists()


def test_an_unwritable_output_folder_is_one_clear_error(tmp_path, monkeypatch):
    # os.access as a non-root user sees a read-only folder (root, as in CI containers, writes anywhere)
    d = tmp_path / "ro"
    d.mkdir()
    monkeypatch.setattr(io.os, "access", lambda p, mode: not (mode == os.W_OK and str(p) == str(d)))
    with pytest.raises(TaskladderError, match=r"ro: output folder is not writable"):
        io.ensure_writable_dir(d)
    io.ensure_writable_dir(tmp_path)


def test_a_file_in_the_way_is_one_clear_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(TaskladderError, match=r"f: is a file; give a folder"):
        io.ensure_writable_dir(tmp_path / "f")
    with pytest.raises(TaskladderError, match=r"d: is a folder; give a file name"):
        (tmp_path / "d").mkdir()
        io.write_json(tmp_path / "d", {})
