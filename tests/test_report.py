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


def test_report_cli_needs_a_target_for_user_ladders(tmp_path):
    d = olmo2_ladder()
    d.ladder.to_parquet(tmp_path / "l.parquet")
    r = run_cli("report", "--ladder", tmp_path / "l.parquet", "--out", tmp_path / "r.html")
    assert r.returncode == 2 and "needs a target" in r.stderr
    assert not (tmp_path / "r.html").exists()
