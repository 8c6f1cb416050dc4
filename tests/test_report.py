"""The HTML report: self-contained, every section present."""

import re

from conftest import run_cli

from taskladder.datasets import olmo2_ladder
from taskladder.report import build
from taskladder.tasks import ALL_TASKS


def test_report_on_bundled_data_is_self_contained():
    d = olmo2_ladder()
    text = build(d.ladder, [d.targets["7B-4T"], d.targets["13B-5T"]], ["mmlu", "piqa", "arc_challenge"],
                 ALL_TASKS, paper=True)
    for section in ("Chained predictions", "Fitted laws", "Step 1", "Step 2", "Automatic prediction",
                    "Design choices", "Variance", "Prediction error vs ladder compute"):
        assert section in text, section
    assert len(re.findall(r"src=\"data:image/png;base64,", text)) == 8  # every figure embedded
    assert "http://" not in text.replace("http://www.w3.org", "")  # nothing fetched when opened
    assert text.count("<td>48.4</td>") == 2  # ours and the paper's MMLU 7B prediction
    # the headline errors, each beside the paper's Figure 2 value (here on 3 of its 8 tasks)
    kpis = re.findall(r'<span class="kpi">(\S+) mean abs. error<b>([\d.]+) pts</b>paper: ([\d.]+)</span>', text)
    assert [(t, p) for t, _, p in kpis] == [("7B-4T", "3.8"), ("13B-5T", "4.2")]


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
    assert text.count("data:image/png;base64,") == 9  # the reliability figure too
