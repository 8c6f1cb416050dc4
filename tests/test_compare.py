"""Two ladders compared at a target (taskladder.compare): the difference and its interval."""

import json
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

from taskladder.chain import Ladder
from taskladder.compare import compare
from taskladder.datasets import bundled_targets, olmo2_ladder
from taskladder.errors import InputWarning
from taskladder.predictor import FINAL_WINDOW
from taskladder.simulate import TrueLaws, synthetic_ladder


@dataclass(frozen=True)
class _Target:
    name: str
    n: float
    d: float


#: what both ladders of these tests (cut from the bundled one without C4 loss) say of each task
NO_C4 = r"^both ladders: (task 'piqa'|every task): no C4 loss, so the automatic choice leaves out c4"


@pytest.fixture(scope="module")
def shifted():
    """The bundled ladder, and a copy whose PIQA accuracy is 2 points higher at every checkpoint."""
    base = olmo2_ladder().ladder
    base = base[base["task"].isin(["piqa", "mmlu"])].reset_index(drop=True)
    cand = base.copy()
    acc = (cand["task"] == "piqa") & (cand["metric"] == "acc")
    cand.loc[acc, "value"] += 0.02
    return base, cand


def test_a_known_shift_is_found_and_an_untouched_task_reads_zero(shifted):
    base, cand = shifted
    with pytest.warns(InputWarning, match=NO_C4):
        c = compare(base, cand, list(bundled_targets().values()), ["piqa", "mmlu"]).set_index(["task", "target"])
    # the checkpoint noise every MMLU pipeline carries (DesignModel.ckpt_sd_), in each actual
    lad = Ladder(base)
    ckpt = float(np.median([np.std(s.value[-10:]) for s in lad.series("mmlu", "acc") if len(s.value) >= 3]))
    for tgt in ("7B-4T", "13B-5T"):
        p, m = c.loc[("piqa", tgt)], c.loc[("mmlu", tgt)]
        # every pipeline carries most of the shift (the sigmoid's anchor at L = 0 holds a little back)
        assert 0.017 < p["difference"] < 0.0201 and p["lower"] > 0.012 and p["upper"] < 0.026
        assert p["paired"] and p["matched_runs"] == 5
        # MMLU is the same in both ladders: exactly 0, and only the two actuals' checkpoint noise
        assert m["difference"] == 0.0
        assert m["sd"] == pytest.approx(np.sqrt(2 * ckpt ** 2 / FINAL_WINDOW), rel=1e-9)
        assert m["upper"] < 0.002


def test_runs_named_otherwise_are_matched_by_rung(shifted):
    # a candidate ladder whose runs carry the experiment's name: paired and matched as before
    base, cand = shifted
    cand = cand.assign(run="mixB-" + cand["run"], size="mixB-" + cand["size"])
    targets = [bundled_targets()["7B-4T"]]
    with pytest.warns(InputWarning, match=NO_C4):
        named = compare(base, cand, targets, ["piqa"]).iloc[0]
    with pytest.warns(InputWarning, match=NO_C4):
        same = compare(base, shifted[1], targets, ["piqa"]).iloc[0]
    assert named["paired"] and named["matched_runs"] == 5
    assert (named["difference"], named["lower"], named["upper"]) == pytest.approx(
        (same["difference"], same["lower"], same["upper"]), abs=1e-12)


def test_independent_ladders_cover_the_true_difference():
    # Two ladders drawn from laws 0.02 apart in irreducible loss (2.8 points at the 7B target),
    # each with its own noise, so the pairing of draws gains nothing, as it should.  Measured
    # 2026-12-04 on these 10 seeds: with the chains only (this test, 9 s), 20 of 20 true
    # differences covered at +-2.98 points; with every pipeline (45 s), 18 of 20 at +-3.21.
    # Without the candidate's own variance the half-width would be ~2.1 and miss more.
    a = TrueLaws()
    b = replace(a, E=a.E - 0.02)
    targets = [_Target("7B", 6.9e9, 3.9e12), _Target("13B", 13e9, 5e12)]
    hits, half = [], []
    for seed in range(10):
        la = synthetic_ladder(a, rng=np.random.default_rng(seed))
        lb = synthetic_ladder(b, rng=np.random.default_rng(1000 + seed))
        c = compare(la, lb, targets, ["mmlu"], designs=("task_bpb", "flops"), n_jobs=1)
        for r, t in zip(c.to_dict("records"), targets):
            truth = b.acc(t.n, t.d) - a.acc(t.n, t.d)
            hits.append(r["lower"] <= truth <= r["upper"])
            half.append(50 * (r["upper"] - r["lower"]))
    assert sum(hits) >= 17 and 2.5 < np.mean(half) < 4.0


def test_cli_compare_json_and_errors(shifted, tmp_path):
    base, cand = shifted
    base.to_csv(tmp_path / "base.csv", index=False)
    cand.to_csv(tmp_path / "cand.csv", index=False)
    r = run_cli("compare", tmp_path / "base.csv", tmp_path / "cand.csv", "--target", "7B-4T", "--task", "piqa",
                "--json", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)["comparisons"]
    # same rungs, nothing missing but the C4 loss this fixture leaves out, from both ladders
    assert json.loads(r.stdout)["notes"] == ["both ladders: task 'piqa': no C4 loss, so the automatic choice leaves "
                                             "out c4 and weighs the other pipelines"]
    assert (tmp_path / "o" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "o" / "compare.json").read_text())["comparisons"][0]["difference"] == row["difference"]
    assert row["task"] == "piqa" and row["target"] == "7B-4T" and row["lower"] > 0
    assert row["difference"] == pytest.approx(row["candidate"] - row["baseline"])
    r = run_cli("compare", tmp_path / "base.csv", tmp_path / "cand.csv", "--target", "7B-4T", "--task", "piqa,mmlu")
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and max(map(len, lines)) <= 80 and "…" not in r.stdout
    # PIQA, MMLU, then the mean over the two (+0.95 points, its interval clear of 0)
    assert [x.split("│")[-3].strip() for x in lines if x.startswith("│")] == ["higher", "unclear", "higher"]
    # the compute multiplier beside the verdict: PIQA's +2 points are several times the compute, MMLU's 0 is 1
    assert [x.split("│")[-2].strip() for x in lines if x.startswith("│")] == ["4.4", "1", "1.6"]
    assert [x.split("│")[1].strip() for x in lines if x.startswith("│")][-1] == "mean of 2"
    got = json.loads(run_cli("compare", tmp_path / "base.csv", tmp_path / "cand.csv", "--target", "7B-4T", "--task",
                             "piqa,mmlu", "--json").stdout)
    (m,) = got["mean"]
    assert m["tasks"] == ["piqa", "mmlu"] and "weights" not in m
    assert m["difference"] == pytest.approx(sum(r["difference"] for r in got["comparisons"]) / 2, abs=1e-15)
    r = run_cli("compare", tmp_path / "base.csv", tmp_path / "cand.csv", "--target", "7B-4T", "--task", "csqa")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no accuracy for task 'csqa'" in r.stderr
    # too small a candidate: named, and no hint of predict's --paper, which compare does not have
    cand[cand["run"].str.startswith(("1B", "760M"))].to_csv(tmp_path / "small.csv", index=False)
    r = run_cli("compare", tmp_path / "base.csv", tmp_path / "small.csv", "--target", "7B-4T", "--task", "piqa")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--paper" not in r.stderr
    assert r.stderr.startswith(f"taskladder: error: {tmp_path / 'small.csv'}: 8 runs;")


def test_what_either_ladder_cannot_tell_is_said(shifted):
    # mid-run comparisons are the common case: the candidate's 1B-10xC still training, and PIQA
    # never scored on either ladder's 190M-1xC
    from taskladder.compare import comparison_notes

    base, cand = shifted
    no_piqa = lambda f: f[~((f["task"] == "piqa") & (f["run"] == "190M-1xC"))]  # noqa: E731
    big = cand["run"] == "1B-10xC"
    cand = cand[~(big & (cand["step"] > 0.6 * cand.loc[big, "step"].max()))]
    target = [bundled_targets()["7B-4T"]]
    notes = comparison_notes(no_piqa(base), no_piqa(cand), target, ["piqa"])
    assert notes[0] == ("both ladders: task 'piqa': 1 of the ladder's 16 runs has no piqa results (190M-1xC): it is "
                        "fitted and backtested on the runs that have them")  # said once
    assert notes[1].startswith("candidate: run 1B-10xC (6xC) ends short of the tokens its name says")
    assert len(notes) == 2  # the short run keeps its name: it is the same rung, not a missing one
    # its 1B-1xC not yet started: a rung only the baseline has
    notes = comparison_notes(base, cand[cand["run"] != "1B-1xC"], target, ["piqa"])
    assert notes[-1] == ("the baseline has 1B-1xC with no run of the same N and tokens per parameter in the other "
                         "ladder: the two predictions extrapolate from different rungs, so their difference mixes "
                         "the change with the ladders' composition; compare ladders of the same rungs")
    # runs named otherwise but of the same rungs, or ending a little off, are the same rungs
    renamed = base.assign(run="mixB-" + base["run"], d=base["d"] * 1.02)
    assert comparison_notes(base, renamed, target, ["piqa"]) == []
    assert comparison_notes(base, base.assign(run="mixB-" + base["run"], d=base["d"] * 1.2), target, ["piqa"])
    # the pipelines each ladder's automatic choice left out for lack of data, once where both did
    def state(*left):
        return {"piqa": left}

    c4, bpb = ("c4", "no C4 loss"), ("task_bpb", "no 'bpb' values")
    notes = comparison_notes(base, renamed, target, ["piqa"], (state(c4), state(c4, bpb)))
    assert notes == ["both ladders: task 'piqa': no C4 loss, so the automatic choice leaves out c4 and weighs the "
                     "other pipelines",
                     "candidate: task 'piqa': no 'bpb' values, so the automatic choice leaves out task_bpb and "
                     "weighs the other pipelines"]


def test_the_differences_backtest_error_by_hand():
    import pandas as pd

    from taskladder.compare import difference_error

    def bt(rows):
        return pd.DataFrame(rows, columns=["split", "run", "design", "predicted", "actual", "log_extrapolation"])

    a = bt([("S1", "r1", "x", .50, .52, 1.0), ("S1", "r1", "y", .55, .52, 1.0),
            ("S2", "r2", "x", .60, .61, 2.0), ("S2", "r2", "y", .58, .61, 2.0)])
    b = bt([("S1", "r1", "x", .51, .54, 1.0), ("S1", "r1", "y", .57, .54, 1.0),
            ("S2", "r2", "x", .62, .62, 2.0), ("S2", "r2", "y", .61, .62, 2.0)])
    # pooled squared errors per row ((A's miss)^2 + (B's miss)^2) / 2: S1 x .00065, y .0009; S2 x .00005, y .0005
    # r1 (S1) weighted by S2's: x 1/.00005, y 1/.0005; its difference predicted -.01 (x), -.02 (y), actual -.02
    e1 = (-.01 / .00005 - .02 / .0005) / (1 / .00005 + 1 / .0005) + .02
    # r2 (S2) weighted by S1's: x 1/.00065, y 1/.0009; predicted -.02 (x), -.03 (y), actual -.01
    e2 = (-.02 / .00065 - .03 / .0009) / (1 / .00065 + 1 / .0009) + .01
    err, runs = difference_error(a, b)
    assert runs == 2
    assert err.scale == pytest.approx(np.sqrt((e1 ** 2 + e2 ** 2) / 2), rel=1e-9)
    assert (err.reference, err.dof) == (1.5, 1.0)  # mean distance of the scored runs; runs - 1
    assert difference_error(a, b.assign(run=["q1", "q1", "q2", "q2"])) == (None, 0)  # no run in common


def test_shared_weights_pool_both_ladders_and_unmatched_errors_add_in_quadrature(shifted):
    from taskladder.predictor import _fit_variance
    from taskladder.trust import task_fits

    base, cand = shifted
    # the candidate's runs named and sized otherwise (1% more tokens): no run matches by name or rung
    other = cand.assign(run="x-" + cand["run"], d=(cand["d"] * 1.01).round())
    t = bundled_targets()["7B-4T"]
    with pytest.warns(InputWarning, match=NO_C4):
        row = compare(base, other, [t], ["piqa"]).iloc[0]
    fa, fb = (task_fits(Ladder(df), ["piqa"])["piqa"] for df in (base, other))
    inv = {d: 2 / (fa.weights.loc[d, "rmse"] ** 2 + fb.weights.loc[d, "rmse"] ** 2) for d in row["weights"]}
    assert row["weights"] == pytest.approx({d: v / sum(inv.values()) for d, v in inv.items()}, rel=1e-12)
    assert not row["paired"] and row["matched_runs"] == 0
    # no shared held-out run: each ladder's own model error, as independent
    ea, eb = fa.state.error, fb.state.error
    x = np.log(float(t.n) * float(t.d)) - (fa.state.log_center + fb.state.log_center) / 2
    err_sd = np.hypot(ea.scale, eb.scale) * max(x / ((ea.reference + eb.reference) / 2), 1.0)
    w = row["weights"]
    draws = [{d: s.pipelines[d].draws(t.n, t.d) for d in w} for s in (fa.state, fb.state)]
    fit_var = _fit_variance(fa.state.pipelines, w, draws[0]) + _fit_variance(fb.state.pipelines, w, draws[1])
    assert row["sd"] == pytest.approx(np.sqrt(fit_var + err_sd ** 2), rel=1e-9)
    # the interval: Student t of the two parts' Welch-Satterthwaite degrees of freedom, the fit's
    # those of its least-determined pipeline (they differ: laws of 3 to 5 parameters), the error's
    # the fewer of the two ladders'
    from scipy.stats import t as student

    booted = [d for d in w if draws[0][d] is not None] or list(w)
    dofs = {s.pipelines[d].dof for s in (fa.state, fb.state) for d in booted}
    assert len(dofs) > 1
    err_var = err_sd ** 2
    dof = (fit_var + err_var) ** 2 / (fit_var ** 2 / min(dofs) + err_var ** 2 / min(ea.dof, eb.dof))
    half = student.ppf(0.95, dof) * row["sd"]
    assert (row["lower"], row["upper"]) == pytest.approx((row["difference"] - half, row["difference"] + half),
                                                         rel=1e-5, abs=1e-9)


def test_tasks_named_as_the_tables_print_them_are_the_ladders(tmp_path, shifted):
    from taskladder.compare import read_pair

    base, cand = shifted
    base.to_csv(tmp_path / "a.csv", index=False)
    cand.to_csv(tmp_path / "b.csv", index=False)
    *_, tasks = read_pair(tmp_path / "a.csv", tmp_path / "b.csv", ["PIQA", "MMLU"], None)
    assert tasks == ["piqa", "mmlu"]


def test_the_mean_difference_over_tasks(shifted):
    # PIQA 2 points higher, MMLU untouched: the mean over the two moves by half of PIQA's difference
    base, cand = shifted
    with pytest.warns(InputWarning, match=NO_C4):
        c = compare(base, cand, list(bundled_targets().values()), ["piqa", "mmlu"], mean=True)
    per, mean = c[c["task"] != "mean"], c[c["task"] == "mean"].set_index("target")
    for tgt, g in per.groupby("target"):
        m = mean.loc[tgt]
        assert m["tasks"] == ["piqa", "mmlu"]
        for col in ("baseline", "candidate", "difference"):
            assert m[col] == pytest.approx(g[col].mean(), abs=1e-15)
        assert 0.0085 < m["difference"] < 0.0101 and 0 < m["lower"] < m["difference"] < m["upper"] < 0.02
        assert m["paired"] and m["matched_runs"] == 5
    # without mean=True the table is the tasks' alone, row for row the same
    with pytest.warns(InputWarning, match=NO_C4):
        plain = compare(base, cand, list(bundled_targets().values()), ["piqa", "mmlu"])
    assert plain[["task", "target", "difference", "lower", "upper"]].equals(
        per[["task", "target", "difference", "lower", "upper"]].reset_index(drop=True))


def test_independent_ladders_cover_the_true_mean_difference():
    # Two tasks, each ladder with its own noise: the mean difference's interval (its own backtest
    # error, the tasks' variances as independent) covers the true mean difference.  Measured
    # 2026-12-06 on these 10 seeds: 20 of 20 at +-2.5 points (the tasks': 39 of 40).
    a, a2 = TrueLaws(), replace(TrueLaws(), E=TrueLaws().E + 0.1)
    b, b2 = replace(a, E=a.E - 0.02), replace(a2, E=a2.E - 0.01)
    targets = [_Target("7B", 6.9e9, 3.9e12), _Target("13B", 13e9, 5e12)]
    hits, half, task_half = [], [], []
    for seed in range(10):
        la = pd.concat([synthetic_ladder(a, rng=np.random.default_rng(seed)),
                        synthetic_ladder(a2, rng=np.random.default_rng(500 + seed), task="piqa")])
        lb = pd.concat([synthetic_ladder(b, rng=np.random.default_rng(1000 + seed)),
                        synthetic_ladder(b2, rng=np.random.default_rng(1500 + seed), task="piqa")])
        c = compare(la, lb, targets, ["mmlu", "piqa"], designs=("task_bpb", "flops"), n_jobs=1, mean=True)
        for r, t in zip(c[c["task"] == "mean"].to_dict("records"), targets):
            truth = (b.acc(t.n, t.d) - a.acc(t.n, t.d) + b2.acc(t.n, t.d) - a2.acc(t.n, t.d)) / 2
            hits.append(r["lower"] <= truth <= r["upper"])
            half.append(50 * (r["upper"] - r["lower"]))
        task_half += list(50 * (c["upper"] - c["lower"])[c["task"] != "mean"])
    assert sum(hits) >= 17 and 1.5 < np.mean(half) < np.mean(task_half)


def test_the_compute_multiplier_is_where_the_baseline_reaches_the_candidate(shifted):
    base, cand = shifted
    t = bundled_targets()["7B-4T"]
    with pytest.warns(InputWarning, match=NO_C4):
        c = compare(base, cand, [t], ["piqa", "mmlu"], mean=True).set_index("task")
    p = c.loc["piqa"]
    # 2 points of PIQA, where the baseline gains little per tenfold compute: several times the compute
    assert 2.0 < p["multiplier_lower"] < p["compute_multiplier"] < p["multiplier_upper"] < 20.0
    # MMLU is the same in both ladders: exactly where the baseline already is, and its range around 1
    m = c.loc["mmlu"]
    assert m["compute_multiplier"] == pytest.approx(1.0, abs=2e-3) and m["multiplier_lower"] < 1 < m["multiplier_upper"]
    # the baseline predicted at the multiplied compute (N and D scaled by its square root: the same
    # tokens per parameter; the shared weights do not depend on the target) is the candidate's accuracy,
    # and at the multiplied bounds the baseline plus the difference's bounds (bisection to 0.1% of C)
    scaled = [_Target(f"x{k}", t.n * np.sqrt(p[k]), t.d * np.sqrt(p[k]))
              for k in ("compute_multiplier", "multiplier_lower", "multiplier_upper")]
    with pytest.warns(InputWarning, match=NO_C4):
        again = compare(base, cand, scaled, ["piqa"]).set_index("target")
    assert again.loc["xcompute_multiplier", "baseline"] == pytest.approx(p["candidate"], abs=2e-5)
    assert again.loc["xmultiplier_lower", "baseline"] == pytest.approx(p["baseline"] + p["lower"], abs=2e-5)
    assert again.loc["xmultiplier_upper", "baseline"] == pytest.approx(p["baseline"] + p["upper"], abs=2e-5)
    # the mean's: the compute at which the baseline's mean over the two tasks reaches the candidate's
    mean = c.loc["mean"]
    assert 1.0 < mean["compute_multiplier"] < p["compute_multiplier"]
    with pytest.warns(InputWarning, match=NO_C4):
        at = compare(base, cand, [_Target("m", t.n * np.sqrt(mean["compute_multiplier"]),
                                          t.d * np.sqrt(mean["compute_multiplier"]))], ["piqa", "mmlu"])
    assert at["baseline"].mean() == pytest.approx(mean["candidate"], abs=2e-5)


def test_a_repeated_comparison_reads_no_table_and_says_what_reading_warned(tmp_path, monkeypatch):
    # what compare knows before any target (compare.pair_state) is cached by both ladders' files:
    # again, at the same or another target, it prints the same without pandas, scipy or pyarrow
    from conftest import imported, piqa_shifted_files, probe_cli

    base, cand = piqa_shifted_files(tmp_path)
    args = ["compare", base, cand, "--n", "7B", "--tokens", "4T"]
    cold, warm = probe_cli(tmp_path / "c", *args), probe_cli(tmp_path / "c", *args)
    cold_json, warm_json = probe_cli(tmp_path / "j", *args, "--json"), probe_cli(tmp_path / "j", *args, "--json")
    for c, w in ((cold, warm), (cold_json, warm_json)):
        assert c.returncode == w.returncode == 0, c.stderr
        assert w.stdout == c.stdout and "pandas" in imported(c) and imported(w) == "[]", w.stderr
    row = json.loads(warm_json.stdout)["comparisons"][0]
    assert row["task"] == "piqa" and 0.01 < row["difference"] < 0.03 and row["lower"] > 0
    other = probe_cli(tmp_path / "j", *args[:3], "--n", "13B", "--tokens", "5T", "--json")  # another target
    assert other.returncode == 0 and imported(other) == "[]", other.stderr
    assert json.loads(other.stdout)["comparisons"][0]["n"] == 13e9
    # the candidate changed (PIQA 1 point higher instead of 2): compared anew
    c = pd.read_csv(cand)
    c.loc[c["metric"] == "acc", "value"] -= 0.01
    c.to_csv(cand, index=False)
    again = probe_cli(tmp_path / "j", *args, "--json")
    assert "pandas" in imported(again)
    assert json.loads(again.stdout)["comparisons"][0]["difference"] == pytest.approx(row["difference"] / 2, abs=2e-3)
    # what reading the ladders warned is said again from the cache, as a fresh read would
    import taskladder.compare as cmp
    from taskladder.serve import comparison_answer

    real = cmp.read_pair

    def read_pair(*a, **k):
        import warnings

        warnings.warn("cand.csv: something about reading it", InputWarning)
        return real(*a, **k)

    monkeypatch.setattr(cmp, "read_pair", read_pair)
    target = [_Target("7B", 7e9, 4e12)]
    for _ in range(2):
        with pytest.warns(InputWarning, match="something about reading it"):
            got = comparison_answer([base], [cand], target, ["piqa"])
        assert [r["task"] for r in got.rows] == ["piqa"] and got.mean == []


def test_the_verdict_needs_an_interval_clear_of_zero():
    from taskladder.compare import verdict

    assert verdict(0.0005, 0.02) == "higher" and verdict(-0.02, -0.0005) == "lower"
    # an interval that reaches 0 or straddles it tells neither way
    assert verdict(0.0, 0.02) == verdict(-0.02, 0.0) == verdict(-0.01, 0.01) == "unclear"
