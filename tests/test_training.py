"""The ladder trainer: recipe, determinism, resume after kill -9, FSDP2 on 2 processes, end to end."""

import gzip
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from conftest import run_cli  # noqa: E402

from taskladder.errors import TaskladderError  # noqa: E402
from taskladder.ladder import MICRO_SHAPES, PAPER_SHAPES, PRESETS, PlanConfig, plan  # noqa: E402
from taskladder.training import (  # noqa: E402
    Batches,
    byte_tokenizer,
    count_non_embedding,
    encode_corpus,
    lr_at,
    model_config,
    read_documents,
    split_heldout,
)

CORPUS_TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 400


def test_byte_tokenizer_is_utf8_bytes_and_survives_a_save(tmp_path):
    from transformers import AutoTokenizer

    tok = byte_tokenizer()
    text = "Héllo, world!\n\tçava? 日本"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids == list(text.encode("utf-8"))
    assert tok.decode(ids) == text
    assert len(tok) == 257 and tok.eos_token_id == 256
    assert encode_corpus([text, "ab"], tok).tolist() == ids + [256, 97, 98, 256]
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    assert again(text, add_special_tokens=False)["input_ids"] == ids


def test_models_have_the_planned_non_embedding_parameters():
    from transformers import Olmo2ForCausalLM

    tok = byte_tokenizer()
    for r in plan(PRESETS["micro"]) + plan(PRESETS["tiny"]):
        with torch.device("meta"):
            model = Olmo2ForCausalLM(model_config(r, 264, tok))
        assert count_non_embedding(model) == r.n
    # the paper's 190M with the dolma2 vocabulary: 190,354,176 (issue's worked example)
    r = plan(PlanConfig(sizes=("190M",), multiples=(1,)))[0]
    with torch.device("meta"):
        model = Olmo2ForCausalLM(model_config(r, 100_352, tok))
    assert count_non_embedding(model) == 190_354_176
    assert set(MICRO_SHAPES).isdisjoint(PAPER_SHAPES)


def test_learning_rate_schedule():
    r = plan(PRESETS["micro"])[2]  # 8k-5xC: 385 steps of 2,048 tokens, warmup N = 7,884 tokens = 4 steps
    assert (r.name, r.steps, r.warmup_steps) == ("8k-5xC", 385, 4)
    assert lr_at(0, r) == pytest.approx(r.peak_lr / 4)
    assert lr_at(3, r) == pytest.approx(r.peak_lr)
    assert lr_at(4, r) == pytest.approx(r.peak_lr)  # cosine starts at the peak
    mid = 4 + (r.steps - 4) / 2
    assert lr_at(int(mid), r) == pytest.approx((r.peak_lr + r.final_lr) / 2, rel=0.02)
    assert lr_at(r.steps, r) == pytest.approx(r.final_lr) == pytest.approx(0.1 * r.peak_lr)
    lrs = [lr_at(s, r) for s in range(4, r.steps)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_batches_are_a_pure_function_of_seed_and_step():
    toks = np.arange(1000, dtype=np.int32)
    b = Batches(toks, 10, 4, seed=3)
    assert b.n_chunks == 100
    # one epoch = 25 steps covers every chunk exactly once
    seen = np.concatenate([b.batch(s)[:, 0] for s in range(25)])
    assert sorted(seen.tolist()) == list(range(0, 1000, 10))
    # the next epoch is another permutation; a fresh object gives the same batches
    assert not np.array_equal(b.batch(25), b.batch(0))
    assert np.array_equal(Batches(toks, 10, 4, seed=3).batch(57), b.batch(57))
    # two processes' slices make up the whole batch
    both = np.concatenate([b.batch(7, 0, 2), b.batch(7, 1, 2)])
    assert sorted(both[:, 0].tolist()) == sorted(b.batch(7)[:, 0].tolist())


def test_corpus_formats(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"text": "one"}\n\n{"text": "two"}\n')
    assert read_documents(tmp_path / "c.jsonl") == ["one", "two"]
    pd.DataFrame({"text": ["a", "b", "c"]}).to_parquet(tmp_path / "c.parquet")
    assert read_documents(tmp_path / "c.parquet") == ["a", "b", "c"]
    pd.DataFrame({"text": ["a", None, "c"]}).to_parquet(tmp_path / "gap.parquet")  # a missing text is no document
    assert read_documents(tmp_path / "gap.parquet") == ["a", "c"]
    (tmp_path / "c.txt").write_text("x" * 100)
    train, held = split_heldout(read_documents(tmp_path / "c.txt"), 0.1)
    assert len(train[0]) == 90 and held == "x" * 10
    train, held = split_heldout(["d%d" % i for i in range(20)], 0.1)
    assert len(train) == 18 and held == "d18\n\nd19"
    train, held = split_heldout(["d%d" % i for i in range(30)], 0.05)  # 1.5 documents: rounded to 2
    assert len(train) == 28 and held == "d28\n\nd29"
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"body": 1}\n')
    with pytest.raises(TaskladderError, match="bad.jsonl, line 2: expected a JSON object with a 'text' field"):
        read_documents(tmp_path / "bad.jsonl")
    pd.DataFrame({"body": ["a"]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(TaskladderError, match="no 'text' column"):
        read_documents(tmp_path / "bad.parquet")


def _word_tokenizer():
    """A tokenizers.Tokenizer of three words (a, b, <eos>), split on whitespace."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tk = Tokenizer(models.WordLevel({"a": 0, "b": 1, "<eos>": 2}, unk_token="<eos>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    return tk


def test_a_tokenizers_corpus_is_one_stream_with_end_of_text_after_each_document():
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_object=_word_tokenizer(), eos_token="<eos>")
    got = encode_corpus(["a b a", "b"], tok)
    assert got.dtype == np.int32 and got.tolist() == [0, 1, 0, 2, 1, 2]
    assert encode_corpus([], tok).tolist() == []
    # the byte tokenizer: UTF-8 bytes, then its end-of-text (256)
    assert encode_corpus(["é", "A"], byte_tokenizer()).tolist() == [0xC3, 0xA9, 256, 65, 256]


def _losses(run_dir):
    last = max(run_dir.glob("step*"), key=lambda p: int(p.name[4:]))
    return [m["loss"] for m in json.loads((last / "taskladder.json").read_text())["losses"]], last


TRAIN = ["train", "--preset", "tiny", "--rung", "12k-5xC", "--max-steps", "120"]


def test_kill_9_then_resume_gives_identical_losses(tmp_path):
    ref = run_cli(*TRAIN, "--out", tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr
    want, ref_last = _losses(tmp_path / "ref" / "12k-5xC")
    assert len(want) == 120 and ref_last.name == "step120"
    assert want[-1] < want[0] - 1.0  # it learns

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "taskladder.cli", *TRAIN, "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "12k-5xC" / "step50").exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.005)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not (out / "12k-5xC" / "step120").exists(), "the run finished before it could be killed"
    again = run_cli(*TRAIN, "--out", out)
    assert again.returncode == 0, again.stderr
    assert "resumed at step" in again.stdout
    got, last = _losses(out / "12k-5xC")
    assert got == want  # bit for bit, the steps after the resume included
    a = (ref_last / "model.safetensors").read_bytes()
    assert a == (last / "model.safetensors").read_bytes()
    assert not list((out / "12k-5xC").glob(".step*"))  # no half-written checkpoint left
    # only the latest checkpoint keeps the optimizer state
    assert [p.name for p in (out / "12k-5xC").glob("step*/train_state.pt")] == ["train_state.pt"]


def test_a_run_is_continued_only_under_its_own_settings(tmp_path):
    # a checkpoint made under another seed, corpus or shape is not continued, nor counted as done
    from taskladder.training import RunCheckpoints

    base = ["train", "--preset", "tiny", "--rung", "3k-1xC", "--out", tmp_path]
    r = run_cli(*base, "--max-steps", "2")
    assert r.returncode == 0, r.stderr
    small = tmp_path / "small.txt"
    small.write_text("to be or not to be, that is the question. " * 200)
    for extra, message in ((["--seed", "7"], "step2: trained with seed 0, this command has 7"),
                           (["--corpus", small], "trained on 1,059,625 training tokens, this command's corpus")):
        r = run_cli(*base, *extra, "--max-steps", "3")
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert not (tmp_path / "3k-1xC" / "step3").exists()
    r = run_cli(*base, "--micro-batch", "2", "--max-steps", "3")  # the same batches in smaller pieces
    assert r.returncode == 0 and "resumed at step 2" in r.stdout, r.stderr
    meta = json.loads((tmp_path / "3k-1xC" / "step3" / "taskladder.json").read_text())
    rung = next(x for x in plan(PRESETS["tiny"]) if x.name == "3k-1xC")
    settings = {**{k: meta["train"][k] for k in ("seed", "dtype", "grad_clip", "z_loss", "betas", "weight_decay",
                                                 "eps", "rope_theta")}, "train_tokens": meta["train_tokens"]}
    assert RunCheckpoints(tmp_path, settings=settings).done_summary(rung, 3)["steps"] == 3
    with pytest.raises(TaskladderError, match="trained with seed 0, this command has 1"):
        RunCheckpoints(tmp_path, settings={**settings, "seed": 1}).done_summary(rung, 3)
    with pytest.raises(TaskladderError, match="trained with dtype float32, this command has bfloat16"):
        RunCheckpoints(tmp_path, settings={**settings, "dtype": "bfloat16"}).done_summary(rung, 3)
    from dataclasses import replace

    with pytest.raises(TaskladderError, match="trained with rung seq_len 256, this command has 128"):
        RunCheckpoints(tmp_path, settings=settings).done_summary(replace(rung, seq_len=128), 3)
    # the rung's share of the target does not touch its weights
    assert RunCheckpoints(tmp_path, settings=settings).done_summary(replace(rung, target_share=0.5), 3)


def test_fsdp2_on_two_gloo_processes_matches_one_process(tmp_path):
    args = ["train", "--preset", "tiny", "--rung", "6k-1xC", "--max-steps", "20"]
    one = run_cli(*args, "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "taskladder.cli", *args, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env)
    assert two.returncode == 0, two.stderr[-3000:]
    a, a_last = _losses(tmp_path / "one" / "6k-1xC")
    b, b_last = _losses(tmp_path / "two" / "6k-1xC")
    assert len(a) == len(b) == 20
    np.testing.assert_allclose(b, a, rtol=2e-5)  # step for step (a summed gradient would diverge at once)
    assert json.loads((b_last / "taskladder.json").read_text())["world_size"] == 2
    from safetensors.torch import load_file

    wa, wb = load_file(a_last / "model.safetensors"), load_file(b_last / "model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-4, atol=2e-5)


def test_run_tiny_preset_end_to_end_and_evaluate_reads_trainer_checkpoints(tmp_path):
    r = run_cli("run", "--preset", "tiny", "--limit", "300", "--out", tmp_path / "run", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["target"] == "12k-5xC" and "12k-5xC" not in s["ladder_runs"] and len(s["ladder_runs"]) == 8
    preds = {p["task"]: p for p in s["predictions"]}
    assert set(preds) == {"cloze_spelling", "cloze_swap", "cloze_vowel", "cloze_neighbor"}
    for p in preds.values():
        assert {"task", "chance", "predicted", "lower", "upper", "actual"} <= set(p)
        assert p["chance"] == 0.25 and 0 < p["lower"] < p["predicted"] < p["upper"] < 1
        # task loss of the held-out largest rung, predicted by step 1 from the smaller rungs
        assert p["step1_error"] < 0.1
        assert abs(p["predicted"] - p["actual"]) < 0.08 and p["covered"]
    # the spelling tasks are learned at this size (OLMES questions stay at chance), the word task barely
    for t in ("cloze_spelling", "cloze_swap", "cloze_vowel"):
        assert preds[t]["actual"] > 0.25 + 0.3
    assert preds["cloze_spelling"]["actual"] > preds["cloze_swap"]["actual"] > preds["cloze_vowel"]["actual"] \
        > preds["cloze_neighbor"]["actual"] > 0.25
    assert s["target_compute_ratio"] == 2.5
    assert s["heldout_loss"]["rel_error"] < 0.15
    assert s["caveat"] is None and s["level"] == 0.9
    assert s["provenance"]["ladder"]["files"] == [str(tmp_path / "run" / "results.parquet")]
    assert s["provenance"]["corpus"]["files"][0].endswith("tinyshakespeare.txt") and s["provenance"]["corpus"]["digest"]
    res = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert res["run"].nunique() == 9
    # language-model loss and cloze accuracy (final checkpoint, mean over the 3 tasks) improve with D
    # for every size, and the largest size beats the smallest at every multiple
    fin = res.sort_values("step").groupby(["run", "task", "metric"]).tail(1)
    lm = fin[fin.metric == "lm_loss"].set_index("run")["value"]
    acc = fin[fin.metric == "acc"].groupby("run")["value"].mean()
    for size in ("3k", "6k", "12k"):
        assert lm[f"{size}-1xC"] > lm[f"{size}-2xC"] > lm[f"{size}-5xC"]
        assert acc[f"{size}-1xC"] < acc[f"{size}-2xC"] < acc[f"{size}-5xC"]
    for m in ("1xC", "2xC", "5xC"):
        assert lm[f"3k-{m}"] > lm[f"12k-{m}"] and acc[f"12k-{m}"] > acc[f"3k-{m}"] + 0.05
    # the fits saw the ladder alone: the same chain refitted here without the target's rows
    from taskladder.evaluation import load_task
    from taskladder.ladder import target_rung
    from taskladder.pipeline import chained_predictions

    tasks = [load_task(tmp_path / "run" / "tasks" / f"{t}.json.gz") for t in preds]
    again, _, _ = chained_predictions(res[res.run != "12k-5xC"], res[res.run == "12k-5xC"],
                                      target_rung(PRESETS["tiny"]), tasks)
    for p in again.itertuples():
        assert preds[p.task]["predicted"] == pytest.approx(p.predicted, abs=1e-9)
        assert preds[p.task]["covered"] == (p.lower <= p.actual <= p.upper)
        assert p.actual == pytest.approx(res[(res.run == "12k-5xC") & (res.task == p.task) & (res.metric == "acc")]
                                         .sort_values("step")["value"].iloc[-5:].mean(), abs=1e-12)
    held = res[(res.run == "12k-5xC") & (res.metric == "lm_loss")].sort_values("step")
    assert s["heldout_loss"]["actual"] == held["value"].iloc[-1]  # its last checkpoint's held-out loss
    html = (tmp_path / "run" / "report.html").read_text()
    assert "<img" in html and "12k-5xC" in html and "90% interval" in html
    task_file = json.loads(gzip.decompress((tmp_path / "run" / "tasks" / "cloze_vowel.json.gz").read_bytes()))
    assert len(task_file["items"]) == 300 and task_file["uncond"] is False and task_file["name"] == "cloze_vowel"
    # a second run resumes everything and changes nothing
    again = run_cli("run", "--preset", "tiny", "--limit", "300", "--out", tmp_path / "run", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["predictions"] == s["predictions"]
    # finished rungs are summarised from their checkpoints: the same steps and final losses
    for first, resumed in zip(s["runs"], json.loads(again.stdout)["runs"]):
        assert resumed == {**first, "resumed_from": first["steps"], "tokens_per_s": None}
    # other questions (another --limit) are not mixed with the rows scored on these
    before = (tmp_path / "run" / "tasks" / "cloze_vowel.json.gz").read_bytes()
    other = run_cli("run", "--preset", "tiny", "--limit", "200", "--out", tmp_path / "run", "--json")
    assert other.returncode == 2 and "scored on other questions of cloze_spelling" in other.stderr, other.stderr
    assert (tmp_path / "run" / "tasks" / "cloze_vowel.json.gz").read_bytes() == before  # left as it was
    # the same seed gives the same numbers: retrain one run from scratch, re-score it, refit
    shutil.rmtree(tmp_path / "run" / "runs" / "3k-1xC")
    res[res.run != "3k-1xC"].to_parquet(tmp_path / "run" / "results.parquet")
    fresh = run_cli("run", "--preset", "tiny", "--limit", "300", "--out", tmp_path / "run", "--json")
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["predictions"] == s["predictions"]
    res2 = pd.read_parquet(tmp_path / "run" / "results.parquet")
    key = ["run", "step", "task", "metric"]
    pd.testing.assert_frame_equal(res2.sort_values(key).reset_index(drop=True),
                                  res.sort_values(key).reset_index(drop=True))
    # taskladder evaluate reads the trainer's checkpoints without --run-name/--params/--batch-tokens
    cks = sorted((tmp_path / "run" / "runs" / "3k-1xC").glob("step*"))
    ev = run_cli("evaluate", *cks, "--task", "csqa", "--limit", "20", "--zero-shot", "--overlong", "truncate",
                 "--out", tmp_path / "ev.parquet")
    assert ev.returncode == 0, ev.stderr
    e = pd.read_parquet(tmp_path / "ev.parquet")
    assert set(e["run"]) == {"3k-1xC"} and set(e["n"]) == {3176}
    assert sorted(set(e["step"])) == [20, 32] and (e[e.step == 32]["d"] == 32 * 2048).all()


@pytest.mark.parametrize("args, message", [
    (["--sizes", "3k,5M"], "unknown size '5M'"),
    (["--preset", "tiny", "--budget", "1e6"], "over the budget"),
    (["--preset", "tiny", "--rung", "99k-1xC"], "unknown rung '99k-1xC'"),
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--preset", "tiny", "--tokenizer", "nope.json"], "neither 'bytes' nor a tokenizer"),
])
def test_train_bad_input(tmp_path, args, message):
    r = run_cli("train", "--out", tmp_path / "o", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_train_corpus_too_small_and_unwritable_output(tmp_path):
    small = tmp_path / "small.txt"
    small.write_text(CORPUS_TEXT[:5000])
    r = run_cli("train", "--preset", "tiny", "--corpus", small, "--out", tmp_path / "o")
    assert r.returncode == 2 and "corpus too small" in r.stderr and "small.txt" in r.stderr
    assert not (tmp_path / "o" / "3k-1xC").exists()  # refused before training anything
    # a corpus with no text, with a tokenizer file (the tokenizer's batch call failed on no documents)
    _word_tokenizer().save(str(tmp_path / "tok.json"))
    for name, text in (("empty.jsonl", ""), ("blank.jsonl", "\n\n"), ("empty.txt", "")):
        (tmp_path / name).write_text(text)
        r = run_cli("train", "--preset", "tiny", "--corpus", tmp_path / name, "--tokenizer", tmp_path / "tok.json",
                    "--out", tmp_path / "o")
        assert r.returncode == 2 and r.stderr.strip().endswith(f"{name}: the corpus holds no text"), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder cannot be created under a file, even by root
    r = run_cli("train", "--preset", "tiny", "--out", blocker / "x")
    assert r.returncode == 2 and "cannot create output folder" in r.stderr and "Traceback" not in r.stderr


def test_loss_of_an_untrained_model_is_near_uniform(tmp_path):
    # initial loss ~ ln(vocab): a check that inputs and shifted targets line up
    r = run_cli("train", "--preset", "tiny", "--rung", "3k-1xC", "--max-steps", "1", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    losses, _ = _losses(tmp_path / "3k-1xC")
    assert abs(losses[0] - math.log(264)) < 0.1


def test_weight_decay_spares_the_input_embedding_only(tmp_path):
    # OLMo 2: AdamW (0.9, 0.95), weight decay 0.1 on every parameter except the input embedding
    from taskladder.training import TrainConfig, Trainer

    corpus = tmp_path / "c.txt"
    corpus.write_text(CORPUS_TEXT)
    model, opt = Trainer(TrainConfig(out_dir=tmp_path / "out", corpus=corpus), 264)._build(plan(PRESETS["tiny"])[0])
    emb = model.get_input_embeddings().weight
    decayed, spared = opt.param_groups
    assert spared["weight_decay"] == 0.0 and len(spared["params"]) == 1 and spared["params"][0] is emb
    assert decayed["weight_decay"] == 0.1 and decayed["betas"] == (0.9, 0.95)
    assert {id(p) for p in decayed["params"]} == {id(p) for p in model.parameters() if p is not emb}
    assert model.get_output_embeddings().weight is not emb  # the LM head is not tied to it, and decays


def test_fused_cross_entropy_z_loss_matches_autograd():
    from taskladder.training import cross_entropy_z_loss

    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 7, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.randint(0, 7, (12,), generator=g)
    assert torch.autograd.gradcheck(lambda a: cross_entropy_z_loss(a, t, 0.3)[0], (x,))
    total, ce = cross_entropy_z_loss(x, t, 0.3)
    ref = torch.nn.functional.cross_entropy(x, t)
    assert float(ce.detach()) == pytest.approx(float(ref.detach()), abs=1e-12)
    assert float(total.detach()) == pytest.approx(float((ref + 0.3 * (torch.logsumexp(x, -1) ** 2).mean()).detach()), abs=1e-12)


def test_gradient_accumulation_and_bf16_track_the_fp32_run(tmp_path):
    base = ["train", "--preset", "tiny", "--rung", "6k-1xC", "--max-steps", "12"]
    runs = {}
    for name, extra in (("ref", []), ("accum", ["--micro-batch", "2"]), ("bf16", ["--dtype", "bfloat16"])):
        r = run_cli(*base, *extra, "--out", tmp_path / name)
        assert r.returncode == 0, r.stderr
        runs[name], _ = _losses(tmp_path / name / "6k-1xC")
    # 4 micro-batches of 2 sequences give the full batch's gradient
    np.testing.assert_allclose(runs["accum"], runs["ref"], rtol=1e-5)
    # bf16 autocast follows the fp32 run closely (the loss itself is computed in fp32)
    np.testing.assert_allclose(runs["bf16"], runs["ref"], rtol=0.02)


@pytest.mark.parametrize("args, message", [
    (["run", "--preset", "huge"], "unknown preset 'huge'"),
    (["run", "--preset", "tiny", "--limit", "0"], "limit must be positive"),
    (["run", "--preset", "tiny", "--workers", "0"], "workers must be positive"),
    (["evaluate", ".", "--task", "csqa", "--overlong", "cut"], "--overlong: choose error or truncate"),
])
def test_run_and_evaluate_bad_options(tmp_path, args, message):
    r = run_cli(*args, "--out", tmp_path / ("o.parquet" if args[0] == "evaluate" else "o"))
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_train_names_the_presets_target_rung(tmp_path):
    r = run_cli("train", "--preset", "micro", "--rung", "87k-5xC", "--max-steps", "1", "--out", tmp_path)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    meta = json.loads((tmp_path / "87k-5xC" / "step1" / "taskladder.json").read_text())
    assert meta["n"] == 86_832 and meta["run"] == "87k-5xC"
