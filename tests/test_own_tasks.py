"""Tasks outside the registry: a ladder evaluated on the user's own tasks (kept by the readers
under their own names, e.g. lm-eval's ``sciq``) is predicted like the paper's."""

import json
import warnings

import numpy as np
import pytest
from conftest import run_cli

from taskladder.chain import Ladder
from taskladder.datasets import olmo2_ladder
from taskladder.errors import TaskladderError
from taskladder.laws import FitWarning, SingleStep
from taskladder.tasks import default_tasks
from taskladder.trust import DesignModel


def _renamed(frame):
    """The bundled ladder with every task but the LM-loss sets renamed outside the registry."""
    task = frame["task"].astype(str)
    return frame.assign(task=np.where(frame["metric"] != "lm_loss", "my_" + task, task))


def test_an_unknown_task_starts_step_2_at_its_lowest_logged_accuracy():
    lad = olmo2_ladder().ladder
    own = Ladder(_renamed(lad))
    acc = lad[(lad["task"] == "piqa") & (lad["metric"] == "acc")]["value"]
    assert own.chance("my_piqa") == pytest.approx(acc.min()) == pytest.approx(0.505, abs=0.001)
    assert Ladder(lad).chance("piqa") == 0.5  # the registry's, 2 choices
    assert own.chance("c4_en") == 0.0  # no accuracy at all


def test_an_unknown_task_gets_the_single_step_of_its_registry_twin():
    # Without the 1B runs PIQA's single step is sensitive to where its floor starts: from 0
    # (an unknown task's chance in the registry) it lands 8.5 points away from the fit that
    # starts at PIQA's chance; from the ladder's lowest accuracy it lands on it.
    lad = olmo2_ladder().ladder
    lad = lad[lad["size"] != "1B"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        twin = DesignModel("single_step", "piqa", n_starts=2).fit(Ladder(lad)).law_.predict(7e9, 4e12)
        own = DesignModel("single_step", "my_piqa", n_starts=2).fit(Ladder(_renamed(lad))).law_.predict(7e9, 4e12)
        pts = Ladder(lad).final_points("piqa", "acc", 5)
        law = SingleStep(chance=0.0)
        law.n_starts = 2
        from_zero = law.fit(pts["n"], pts["d"], pts["value"]).predict(7e9, 4e12)
    assert own == pytest.approx(twin, abs=0.002)
    assert abs(from_zero - twin) > 0.05


def test_default_tasks_fall_back_to_every_task_with_accuracy():
    assert default_tasks(["mine", "sciq"]) == ["mine", "sciq"]
    assert default_tasks(["sciq", "piqa"]) == ["piqa"]  # a known task first
    with pytest.raises(TaskladderError, match="accuracy .* for no task"):
        default_tasks([])


def test_the_cli_predicts_a_ladder_of_unknown_tasks(tmp_path):
    lad = olmo2_ladder().ladder
    keep = lad[lad["task"].isin(["mmlu", "piqa", "c4_en"])]
    keep.to_csv(tmp_path / "known.csv", index=False)
    _renamed(keep).to_csv(tmp_path / "own.csv", index=False)
    args = ("predict", "--n", "7B", "--tokens", "4T", "--paper", "--json")
    known = run_cli(*args, "--ladder", tmp_path / "known.csv")
    own = run_cli(*args, "--ladder", tmp_path / "own.csv")  # no --task: every task it has
    assert known.returncode == 0 and own.returncode == 0, own.stderr
    k, o = json.loads(known.stdout)["predictions"], json.loads(own.stdout)["predictions"]
    assert [p["task"] for p in o] == ["my_mmlu", "my_piqa"]
    assert [p["predicted"] for p in o] == pytest.approx([p["predicted"] for p in k], abs=1e-6)  # other start, same optimum
    # the report, variance table included (Table 4's tasks are the logs' own: here, those reported)
    rep = run_cli("report", "--ladder", tmp_path / "own.csv", "--n", "7B", "--tokens", "4T", "--out", tmp_path / "r.html")
    assert rep.returncode == 0, rep.stderr
    html = (tmp_path / "r.html").read_text()
    variance = html[html.index("Variance over the last checkpoints"):]
    assert "my_mmlu" in variance and "my_piqa" in variance
    # a task the ladder lacks, known or not, is one line naming those it has
    for name in ("sciq", "mmlu"):
        bad = run_cli(*args, "--ladder", tmp_path / "own.csv", "--task", name)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
        assert f"task {name!r} is not in the ladder (tasks with data: my_mmlu, my_piqa)" in bad.stderr
    bad = run_cli("forecast", "--target", "7B-4T", "--task", "sciq")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "7B-4T: task 'sciq' is not in the log (tasks with bpb and accuracy: arc_challenge," in bad.stderr


def test_forecast_takes_every_task_of_a_log_of_unknown_tasks():
    from taskladder.forecast import forecast

    data = olmo2_ladder()
    target = data.targets["7B-4T"]
    keep = ["mmlu", "piqa", "c4_en"]
    lad, log = data.ladder[data.ladder["task"].isin(keep)], target.full[target.full["task"].isin(keep)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        known = forecast(lad, log, target.n, upto=0.5).forecasts
        own = forecast(_renamed(lad), _renamed(log), target.n, upto=0.5).forecasts
    assert own["task"].tolist() == ["my_mmlu", "my_piqa"]
    for col in ("predicted", "lower", "upper"):
        assert own[col].to_numpy() == pytest.approx(known[col].to_numpy(), abs=1e-6)


def test_task_all_means_every_task_the_ladder_has_accuracy_for(tmp_path):
    # 'all' expanded to the registry's ten before the ladder was read: a ladder of its own tasks
    # was refused ("task 'mmlu' is not in the ladder") and one with six of the ten lost nothing
    # to it but was refused for the other four
    from taskladder.tasks import choose_tasks, parse_names

    assert parse_names(["mmlu,paper", " all", "mmlu"]) == ["mmlu", "hellaswag", "arc_challenge", "arc_easy", "piqa",
                                                          "csqa", "socialiqa", "openbookqa", "all"]
    assert choose_tasks(["all"], ["zeta", "piqa", "alpha", "mmlu"]) == ["mmlu", "piqa", "alpha", "zeta"]
    assert choose_tasks(["zeta", "all"], ["zeta", "piqa"]) == ["zeta", "piqa"]
    assert choose_tasks(None, ["zeta", "piqa"]) == ["piqa"]  # the paper's it has
    lad = _renamed(olmo2_ladder().ladder)
    lad = lad[lad["task"].isin(["my_piqa", "my_mmlu", "my_boolq"])]
    lad.to_csv(tmp_path / "own.csv", index=False)
    for cmd in (["predict", "--n", "7B", "--tokens", "4T", "--paper"], ["backtest"]):
        r = run_cli(*cmd, "--ladder", tmp_path / "own.csv", "--task", "all", "--json")
        assert r.returncode == 0, r.stderr
        rows = json.loads(r.stdout)["predictions" if cmd[0] == "predict" else "summary"]
        assert sorted({p["task"] for p in rows}) == ["my_boolq", "my_mmlu", "my_piqa"]
    # the bundled ladder: the ten tasks of OLMo's logs, in the registry's order
    r = run_cli("predict", "--n", "7B", "--tokens", "4T", "--paper", "--task", "all", "--json")
    assert [p["task"] for p in json.loads(r.stdout)["predictions"]] == [
        "mmlu", "hellaswag", "arc_challenge", "arc_easy", "piqa", "csqa", "socialiqa", "openbookqa", "boolq",
        "winogrande"]
