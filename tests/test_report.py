"""The HTML report: self-contained, every section present."""

import html
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from conftest import run_cli

from taskladder.datasets import olmo2_ladder
from taskladder.report import _name, build
from taskladder.tasks import ALL_TASKS


def test_report_on_bundled_data_is_self_contained():
    d = olmo2_ladder()
    text = build(d.ladder, [d.targets["7B-4T"], d.targets["13B-5T"]], ["mmlu", "piqa", "arc_challenge"],
                 ALL_TASKS, paper=True)
    for section in ("Chained predictions", "Fitted laws", "Step 1", "Step 2", "Automatic prediction",
                    "Design choices", "MC format", "Variance", "Prediction error vs ladder compute", "The ladder"):
        assert section in text, section
    # the ladder's runs (taskladder.describe), smallest first, and its tasks
    ladder = _Sections(text).out["The ladder"]
    assert ladder[0].startswith("Supports every command")
    assert ladder[1] == ["run", "N", "final D", "× Chinchilla", "checkpoints", "tasks"]
    assert ladder[2] == ["190M-1xC", "190,354,176", "3.813e+09", "1", "37", "10"]
    assert ladder[17] == ["1B-10xC", "1,279,395,840", "2.559e+11", "10", "163", "10"]
    assert ["MMLU", "16", "acc, bpb, taskce", "26.9–36.0"] in ladder
    assert len(re.findall(r"src=\"data:image/png;base64,", text)) == 9  # every figure embedded
    assert text.index('<img alt="ladder_accuracy"') > text.index("<h2>The ladder</h2>")  # every run's curves
    assert "http://" not in text.replace("http://www.w3.org", "")  # nothing fetched when opened
    assert text.count("<td>48.4</td>") == 2  # ours and the paper's MMLU 7B prediction
    # the headline errors, each beside the paper's Figure 2 value (here on 3 of its 8 tasks)
    kpis = re.findall(r'<span class="kpi">(\S+) mean abs. error<b>([\d.]+) pts</b>paper: ([\d.]+)</span>', text)
    assert [(t, p) for t, _, p in kpis] == [("7B-4T", "3.8"), ("13B-5T", "4.2")]
    from taskladder.chain import PAPER, predict_targets

    preds, _ = predict_targets(d.ladder, [d.targets["7B-4T"], d.targets["13B-5T"]], ["mmlu", "piqa", "arc_challenge"],
                               PAPER)  # the mean of the three tasks' errors (not their median)
    assert [v for _, v, _ in kpis] == [f"{v:.2f}" for v in preds.groupby("target", sort=False)["abs_error"].mean()]


def test_report_says_what_predict_warns_about():
    from taskladder.datasets import Target
    from taskladder.predictor import range_note
    from taskladder.chain import ladder_span

    d = olmo2_ladder()
    small = Target("small", 100_000_000, 1_000_000_000)  # below every rung
    text = build(d.ladder, [small], ["piqa"], ["piqa"])
    note = range_note(ladder_span(d.ladder), small)
    assert note and f'<p class="flag">warning: {html.escape(note)}</p>' in text


class _Sections(HTMLParser):
    """The report's tables and notes under each <h2>: {caption: [table rows..., note texts...]}."""

    def __init__(self, text):
        super().__init__()
        self.out, self.h2, self.where, self.row, self.cell = {}, None, None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self.where = "h2"
            self.h2 = ""
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""
        elif tag == "p":
            self.where = "p"
            self.out.setdefault(self.h2, []).append("")

    def handle_endtag(self, tag):
        if tag == "h2":
            self.where = None
            self.out[self.h2] = []
        elif tag in ("td", "th") and self.row is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr":
            self.out[self.h2].append(self.row)
            self.row = None
        elif tag == "p":
            self.where = None

    def handle_data(self, data):
        if self.where == "h2":
            self.h2 += data
        elif self.cell is not None:
            self.cell += data
        elif self.where == "p" and self.h2 in self.out:
            self.out[self.h2][-1] += data


def _rows(section):
    """{first cell (and second, when the header says target): the row's cells by header}."""
    tables = [r for r in section if isinstance(r, list)]
    head, body = tables[0], tables[1:]
    two = len(head) > 1 and head[1] == "target"
    return {(r[0], r[1]) if two else r[0]: dict(zip(head, r)) for r in body}


def test_report_numbers_are_the_analyses(monkeypatch):
    """Every number the report prints is the analysis it names: the headline errors, the chained
    predictions with a given interval, the automatic prediction and its summary line, the design
    choices, the MC format, the variance and the compute-vs-error tables."""
    from taskladder import analyses
    from taskladder.chain import PAPER, predict_targets
    d = olmo2_ladder()
    tgts, tasks = [d.targets["7B-4T"], d.targets["13B-5T"]], ["mmlu", "arc_challenge"]
    iv = pd.DataFrame({"task": ["mmlu", "arc_challenge"] * 2, "target": ["7B-4T"] * 2 + ["13B-5T"] * 2,
                       "lower": [0.41, 0.42, 0.43, 0.44], "upper": [0.51, 0.52, 0.53, 0.54],
                       "chance": [0.25, 0.26, 0.27, 0.28]})
    from taskladder import trust

    real = trust.auto_predict

    def one_missed(*a, **k):  # the bundled targets' actuals are all covered: say one is not
        out = real(*a, **k)
        out.predictions.loc[0, "covered"] = False
        return out

    monkeypatch.setattr(trust, "auto_predict", one_missed)
    text = build(d.ladder, tgts, tasks, ALL_TASKS, intervals=iv)
    sec = _Sections(text).out
    pct = "{:.1f}".format

    preds, fits = predict_targets(d.ladder, tgts, tasks, PAPER)
    laws = _rows(sec["Fitted laws"])
    for task, f in fits.items():
        assert (laws[_name(task)]["fit err 1"], laws[_name(task)]["fit err 2"]) == (
            f"{f.step1_.fit_error_:.2%}", f"{f.step2_.fit_error_:.2%}")
        assert laws[_name(task)]["step 1"] == f.step1_.formula()
    kpis = dict(re.findall(r'<span class="kpi">(\S+) mean abs. error<b>([\d.]+) pts</b>', text))
    assert kpis == {t: f"{v:.2f}" for t, v in preds.groupby("target")["abs_error"].mean().items()}
    chained = _rows(sec["Chained predictions (task loss → accuracy)"])
    bounds = iv.set_index(["task", "target"])
    for p in preds.itertuples():
        row = chained[(_name(p.task), p.target)]
        lo, hi, ch = bounds.loc[(p.task, p.target), ["lower", "upper", "chance"]]
        assert (row["predicted"], row["actual"], row["abs err (pts)"]) == (
            pct(100 * p.predicted), pct(100 * p.actual), pct(p.abs_error))
        assert (row["90% interval"], row["chance"]) == (f"[{pct(100 * lo)}, {pct(100 * hi)}]", pct(100 * ch))

    got = trust.auto_predict(d.ladder, tgts, tasks)
    auto = got.predictions
    assert auto["covered"].sum() == 3
    shown = _rows(sec["Automatic prediction with 90% intervals"])
    for a in auto.itertuples():
        row = shown[(_name(a.task), a.target)]
        assert (row["predicted"], row["90% interval"], row["actual"]) == (
            pct(100 * a.predicted), f"[{pct(100 * a.lower)}, {pct(100 * a.upper)}]", pct(100 * a.actual))
    for m in got.mean.itertuples():  # the mean over the two tasks, below them (taskladder.aggregate)
        row = shown[("mean of 2", m.target)]
        assert (row["predicted"], row["90% interval"], row["actual"]) == (
            pct(100 * m.predicted), f"[{pct(100 * m.lower)}, {pct(100 * m.upper)}]", pct(100 * m.actual))
        assert m.predicted == pytest.approx(auto.loc[auto["target"] == m.target, "predicted"].mean())
    mae = auto.groupby("target", sort=False)["abs_error"].mean()
    summary = next(n for n in sec["Automatic prediction with 90% intervals"] if str(n).startswith("Mean absolute"))
    assert summary == ("Mean absolute error: " + ", ".join(f"{k} {v:.2f} pts" for k, v in mae.items())
                       + f"; {int(auto['covered'].sum())}/4 actuals inside the intervals.")

    design = analyses.design_choices(d.ladder, tgts, tasks)
    shown = _rows(sec["Design choices (paper section 6)"])
    for r in design.itertuples():
        assert shown[_name(r.task)][f"{r.design} · {r.target}"] == f"{r.relative_error:.1%}"

    mc = analyses.mc_predictions(d.ladder, tgts, tasks)
    shown = _rows(sec["MC format (paper appendix B.2)"])
    assert len(mc) == len(shown) == 4
    for r in mc.itertuples():
        assert (shown[(_name(r.task), r.target)]["predicted"], shown[(_name(r.task), r.target)]["actual"]) == (
            pct(100 * r.predicted), pct(100 * r.actual))

    var = analyses.variance(d.ladder, ALL_TASKS)
    shown = _rows(sec["Variance over the last checkpoints (paper section 5.1)"])
    for r in var.itertuples():
        assert (shown[_name(r.task)]["loss SD"], shown[_name(r.task)]["acc SD"]) == (
            f"{r.loss_sd:.4f}", f"{r.acc_sd:.4f}")

    cv = analyses.compute_vs_error(d.ladder, tgts, tasks)
    g = cv.groupby(["axis", "subset", "target"], sort=False)["abs_error"].mean()
    rows = [r for r in sec["Prediction error vs ladder compute (paper section 5.2)"] if isinstance(r, list)]
    head = rows[0]
    shown = {(r[head.index("axis")], r[head.index("subset")], r[head.index("target")]): r[head.index("MAE (pts)")]
             for r in rows[1:]}
    assert shown == {k: f"{v:.2f}" for k, v in g.items()}


def test_report_cli_needs_a_target_for_user_ladders(tmp_path):
    d = olmo2_ladder()
    d.ladder.to_parquet(tmp_path / "l.parquet")
    r = run_cli("report", "--ladder", tmp_path / "l.parquet", "--out", tmp_path / "r.html")
    assert r.returncode == 2 and "needs a target" in r.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_cli_takes_bundled_targets_with_any_ladder_and_own_targets_with_the_bundled_one(tmp_path):
    """--target names a bundled target with a user's ladder (its actuals beside the prediction, as
    predict does); without --ladder, --n/--tokens replace the paper's two targets (they were ignored)."""
    from taskladder.analyses import DESIGNS
    from taskladder.chain import predict_targets

    d = olmo2_ladder()
    sub = d.ladder[~d.ladder["run"].str.startswith("1B-")]
    sub.to_parquet(tmp_path / "l.parquet")
    r = run_cli("report", "--ladder", tmp_path / "l.parquet", "--target", "13B-5T", "--task", "piqa",
                "--out", tmp_path / "r.html")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "r.html").read_text()
    preds, _ = predict_targets(sub, [d.targets["13B-5T"]], ["piqa"], DESIGNS["task_bpb"])
    row = re.search(r"<td>PIQA</td>(.*?)</tr>", text, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert f"{100 * preds['predicted'].iloc[0]:.1f}" in cells and "83.0" in cells  # 13B-5T's actual PIQA
    assert "7B-4T" not in text and "on 12 ladder runs" in text
    r = run_cli("report", "--n", "7B", "--tokens", "4T", "--task", "piqa", "--out", tmp_path / "b.html")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "b.html").read_text()
    assert "N=7e+09,D=4e+12" in text and "13B-5T" not in text and "7B-4T" not in text


def test_report_calibration_section_shows_the_ladders_coverage():
    from taskladder.calibration import calibration_table, rolling_auto

    d = olmo2_ladder()
    text = build(d.ladder, [d.targets["7B-4T"]], ["piqa"], ["piqa"], calibration=True)
    assert "Calibration of the intervals on the ladder" in text
    assert "origin 3 (4 runs), top compute (4 runs), largest multiple (4 runs)" in text
    table = calibration_table(rolling_auto(d.ladder, ["piqa"])).set_index(["task", "level"])
    row = re.search(r"<td>pooled</td>(.*?)</tr>", text, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    # coverage at 50/80/90/95%, then the half-widths, then the count of held-out runs
    assert cells[:4] == [f"{table.loc[('all', lv), 'coverage']:.0%}" for lv in (0.5, 0.8, 0.9, 0.95)]
    assert cells[4:8] == [f"{table.loc[('all', lv), 'half_width']:.1f}" for lv in (0.5, 0.8, 0.9, 0.95)]
    assert cells[8] == "12"
    assert text.count("data:image/png;base64,") == 10  # the reliability figure too


def test_the_ladder_section_shows_a_run_short_of_its_name(tmp_path):
    from taskladder.chain import Ladder
    from taskladder.report import _Figures, _ladder

    lad = olmo2_ladder().ladder
    one = lad["run"] == "1B-10xC"
    short = lad[~(one & (lad["step"] > 0.6 * lad.loc[one, "step"].max())) & (lad["run"] != "190M-1xC")]
    fig = _Figures(tmp_path)
    rows = _Sections("<h2>The ladder</h2>" + "".join(_ladder(Ladder(short), fig))).out["The ladder"]
    assert [name for _, (*_, path), _ in fig.jobs for name in [path.name]] == ["ladder_accuracy.png"]
    assert rows[0].startswith("Supports every command")
    assert [r for r in rows if r and r[0] == "1B-10xC"][0][3] == "5.96 of 10"  # reached of planned
    assert [r for r in rows if r and r[0] == "1B-5xC"][0][3] == "5"
    assert ["PIQA", "15", "acc, bpb, taskce"] == [r for r in rows if r and r[0] == "PIQA"][0][:3]


def test_a_run_still_training_is_forecast_in_the_report_as_forecast_does(tmp_path):
    """--target-file with a log short of --tokens: a section with the forecast, equal to
    `taskladder forecast`'s; a finished log shows its actuals and no forecast."""
    import json

    full = olmo2_ladder().targets["13B-5T"].full
    half = tmp_path / "half13.csv"
    full[full["step"] <= full["step"].max() / 2].drop(columns="n").to_csv(half, index=False)
    args = ("--target-file", half, "--n", "13.2B", "--tokens", "5T", "--task", "piqa,mmlu")
    r = run_cli("report", *args, "--out", tmp_path / "r.html")
    assert r.returncode == 0, r.stderr
    assert "'taskladder forecast' forecasts its end from them ('taskladder report' adds that forecast)" in " ".join(
        r.stderr.split())  # the note under the no-actual line: where the forecast is
    text = (tmp_path / "r.html").read_text()
    fc = json.loads(run_cli("forecast", *args, "--json").stdout)["forecasts"]
    section = text[text.index("<h2>Forecast of half13 from its own checkpoints</h2>"):]
    assert re.search(r"At D=5e\+12 tokens from (\d+) checkpoints \(49% of the tokens\)", section)
    for f in fc:
        row = re.search(rf"<td>{_name(f['task'])}</td>(.*?)</tr>", section, re.S).group(1)
        cells = re.findall(r"<td>(.*?)</td>", row)
        assert cells == [f"{100 * f['predicted']:.1f}", f"[{100 * f['lower']:.1f}, {100 * f['upper']:.1f}]",
                         f"{f['predicted_loss']:.3f}", f"{100 * f['ladder_predicted']:.1f}"]
    assert section.count('<img alt="forecast"') == 1
    # the whole log: finished, so its actuals are shown and nothing is forecast
    full.to_csv(tmp_path / "done.csv", index=False)
    r = run_cli("report", "--target-file", tmp_path / "done.csv", "--task", "piqa", "--out", tmp_path / "d.html")
    assert r.returncode == 0, r.stderr
    assert "from its own checkpoints" not in (tmp_path / "d.html").read_text()
    # a log without task loss: the report stands, and says why it has no forecast
    no_bpb = tmp_path / "nobpb.csv"
    pd.read_csv(half).query("metric != 'bpb'").to_csv(no_bpb, index=False)
    r = run_cli("report", "--target-file", no_bpb, *args[2:], "--out", tmp_path / "n.html")
    assert r.returncode == 0, r.stderr
    assert (f"{no_bpb}: no forecast: the log has no task of this report with both task loss (bpb) and accuracy"
            in html.unescape((tmp_path / "n.html").read_text()))


def test_a_candidate_ladder_is_compared_in_the_report_as_compare_does(tmp_path):
    import json

    from conftest import piqa_shifted_files

    piqa_shifted_files(tmp_path)  # PIQA 2 points higher at every checkpoint of cand.csv
    r = run_cli("report", "--ladder", tmp_path / "base.csv", "--target", "7B-4T", "--candidate", tmp_path / "cand.csv",
                "--out", tmp_path / "r.html")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "r.html").read_text()
    rows = _Sections(text).out["cand.csv minus base.csv"]
    assert rows[1] == ["task", "target", "baseline", "candidate", "difference (pts)", "90% interval", "verdict",
                       "x compute"]
    (cli,) = json.loads(run_cli("compare", tmp_path / "base.csv", tmp_path / "cand.csv", "--target", "7B-4T",
                                "--json").stdout)["comparisons"]
    assert rows[2] == ["PIQA", "7B-4T", f"{100 * cli['baseline']:.1f}", f"{100 * cli['candidate']:.1f}",
                       f"{100 * cli['difference']:+.1f}", f"[{100 * cli['lower']:+.1f}, {100 * cli['upper']:+.1f}]",
                       "higher", f"{cli['compute_multiplier']:.2g} [{cli['multiplier_lower']:.2g}, "
                       f"{cli['multiplier_upper']:.2g}]"]
    assert "warning: both ladders: task 'piqa': no C4 loss" in " ".join(x for x in rows if isinstance(x, str))
    assert '<img alt="compare"' in text and f"Candidate: {tmp_path / 'cand.csv'} (digest " in text
    # a candidate too small to compare: one line naming it, no report written
    cand = pd.read_csv(tmp_path / "cand.csv")
    cand[cand["run"].str.startswith(("1B", "760M"))].to_csv(tmp_path / "small.csv", index=False)
    r = run_cli("report", "--candidate", tmp_path / "small.csv", "--task", "piqa", "--out", tmp_path / "s.html")
    assert r.returncode == 2 and r.stderr.startswith(f"taskladder: error: {tmp_path / 'small.csv'}: 8 runs;")
    assert not (tmp_path / "s.html").exists()
