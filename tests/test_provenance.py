"""Every command's JSON and Parquet say which release fitted them and from which data."""

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import scipy
from conftest import run_cli

import taskladder
from taskladder.datasets import olmo2_ladder
from taskladder.provenance import BUNDLED, PARQUET_KEY


def _predict(*args):
    r = run_cli("predict", "--paper", "--task", "piqa", "--n", "7B", "--tokens", "4T", "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["provenance"]


def test_versions_and_the_bundled_ladder():
    p = _predict()
    assert p["versions"]["taskladder"] == taskladder.__version__
    assert p["versions"]["numpy"] == np.__version__ and p["versions"]["scipy"] == scipy.__version__
    assert p["ladder"]["files"] == BUNDLED and p["ladder"]["sizes"] is None and len(p["ladder"]["digest"]) == 64
    assert _predict("--no-cache") == p  # no time stamp: the same data and options, the same bytes


def test_the_digest_follows_the_files_paths_and_bytes(tmp_path):
    lad = olmo2_ladder().ladder
    lad = lad[lad["task"] == "piqa"]
    lad.to_csv(tmp_path / "a.csv", index=False)
    a = _predict("--ladder", tmp_path / "a.csv")
    assert a["ladder"]["files"] == [str(tmp_path / "a.csv")] and a["ladder"]["digest"] != _predict()["ladder"]["digest"]
    shutil.copy(tmp_path / "a.csv", tmp_path / "b.csv")  # the same bytes written again: the same digest
    shutil.copy(tmp_path / "b.csv", tmp_path / "a.csv")
    assert _predict("--ladder", tmp_path / "a.csv") == a
    # another name (a wide log's run is its file name) or one value changed: another digest
    assert _predict("--ladder", tmp_path / "b.csv")["ladder"]["digest"] != a["ladder"]["digest"]
    changed = lad.copy()
    changed.iloc[0, changed.columns.get_loc("value")] += 1e-6
    changed.to_csv(tmp_path / "a.csv", index=False)
    assert _predict("--ladder", tmp_path / "a.csv")["ladder"]["digest"] != a["ladder"]["digest"]


def test_parquet_files_and_the_report_carry_it(tmp_path):
    r = run_cli("predict", "--paper", "--task", "piqa", "--n", "7B", "--tokens", "4T", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    p = json.loads((tmp_path / "predict.json").read_text())["provenance"]
    meta = pq.read_schema(tmp_path / "predictions.parquet").metadata
    assert json.loads(meta[PARQUET_KEY]) == p and b"pandas" in meta  # beside pandas' own
    # a target's own log is a source too
    full = olmo2_ladder().targets["13B-5T"].full
    full[(full["step"] <= 0.3 * full["step"].max()) & (full["task"] == "piqa")].to_csv(tmp_path / "t.csv", index=False)
    r = run_cli("forecast", "--target-file", tmp_path / "t.csv", "--tokens", "5T", "--json")
    fc = json.loads(r.stdout)["provenance"]
    assert fc["target_log"]["files"] == [str(tmp_path / "t.csv")] and fc["ladder"] == p["ladder"]
    from taskladder.report import _footer

    footer = _footer(fc)
    assert f"taskladder {taskladder.__version__} (numpy {np.__version__}" in footer
    assert f"(digest {fc['ladder']['digest'][:16]}); Target log: {tmp_path / 't.csv'} (digest " in footer


def test_an_exported_ladder_keeps_where_it_came_from(tmp_path):
    lad = olmo2_ladder().ladder
    lad[lad["task"] == "piqa"].to_csv(tmp_path / "a.csv", index=False)
    r = run_cli("export", "--ladder", tmp_path / "a.csv", "--out", tmp_path / "x.parquet")
    assert r.returncode == 0, r.stderr
    meta = json.loads(pq.read_schema(tmp_path / "x.parquet").metadata[PARQUET_KEY])
    assert meta["ladder"] == _predict("--ladder", tmp_path / "a.csv")["ladder"]
    assert run_cli("data", "--export", tmp_path / "b.parquet").returncode == 0
    assert json.loads(pq.read_schema(tmp_path / "b.parquet").metadata[PARQUET_KEY])["ladder"]["files"] == BUNDLED


def test_a_comparison_names_both_ladders_and_no_other(tmp_path):
    lad = olmo2_ladder().ladder
    lad = lad[lad["task"] == "piqa"]
    lad.to_csv(tmp_path / "a.csv", index=False)
    lad.assign(value=lad["value"] * 0.999).to_csv(tmp_path / "b.csv", index=False)
    r = run_cli("compare", tmp_path / "a.csv", tmp_path / "b.csv", "--target", "7B-4T", "--json")
    p = json.loads(r.stdout)["provenance"]
    assert set(p) == {"versions", "baseline", "candidate"}
    assert p["baseline"] == _predict("--ladder", tmp_path / "a.csv")["ladder"]
    assert p["candidate"]["files"] == [str(tmp_path / "b.csv")] and p["candidate"]["digest"] != p["baseline"]["digest"]
    assert set(json.loads(run_cli("plan", "--json").stdout)["provenance"]) == {"versions"}  # a plan reads no data


def test_the_apis_tables_carry_it_as_the_cli_says_it(tmp_path):
    import pandas as pd

    lad = olmo2_ladder().ladder
    lad = lad[lad["task"] == "piqa"].reset_index(drop=True)
    lad.to_csv(tmp_path / "a.csv", index=False)
    got = taskladder.predict(n="7B", d="4T", ladder=tmp_path / "a.csv", design="paper")
    assert got.attrs["provenance"] == _predict("--ladder", tmp_path / "a.csv")
    assert taskladder.predict(n="7B", d="4T", design="paper", tasks="piqa").attrs["provenance"] == _predict()
    # a table in memory: by its content; the same rows give the same digest, a changed value another
    mem = taskladder.predict(n="7B", d="4T", ladder=lad, design="paper").attrs["provenance"]["ladder"]
    assert mem["files"] == "a DataFrame in memory" and len(mem["digest"]) == 64
    assert taskladder.predict(n="7B", d="4T", ladder=lad.copy(), design="paper").attrs["provenance"]["ladder"] == mem
    other = lad.assign(value=lad["value"] * (1 + 1e-9))
    assert taskladder.predict(n="7B", d="4T", ladder=other, design="paper").attrs["provenance"]["ladder"] != mem
    # pandas writes attrs into Parquet: a table saved from a notebook keeps where it came from
    got.to_parquet(tmp_path / "p.parquet")
    assert pd.read_parquet(tmp_path / "p.parquet").attrs["provenance"] == got.attrs["provenance"]
    assert set(taskladder.plan_ladder().attrs["provenance"]) == {"versions"}


def test_sources_by_hand(tmp_path):
    """A ladder's source names its size table and its digest follows that table's bytes and the
    reading option; a table in memory is digested by its column names and rows, and one that
    cannot be hashed (a cell holding a list) has no digest rather than an error."""
    import pandas as pd

    from taskladder.provenance import frame_source, source

    lad = tmp_path / "190M-1xC.csv"
    lad.write_text("_step,batch_size_in_tokens,eval/downstream_bpb/piqa_val_rc_5shot_bpb\n1,10,1.0\n")
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("size,n\n190M,190354176\n")
    plain = source(lad)
    with_sizes = source(lad, sizes)
    assert plain["sizes"] is None and with_sizes["sizes"] == str(sizes)
    assert len({plain["digest"], with_sizes["digest"], source(lad, sizes, mixed_conventions=True)["digest"]}) == 3
    sizes.write_text("size,n\n190M,190354177\n")
    assert source(lad, sizes)["digest"] != with_sizes["digest"]
    df = pd.DataFrame({"run": ["a"], "value": [1.0]})
    assert frame_source(df)["digest"] == frame_source(df.copy())["digest"]
    assert frame_source(df.rename(columns={"value": "v"}))["digest"] != frame_source(df)["digest"]
    assert frame_source(df.assign(value=2.0))["digest"] != frame_source(df)["digest"]
    assert frame_source(df.assign(run=[["a", "b"]])) == {"files": "a DataFrame in memory", "sizes": None,
                                                          "digest": None}
