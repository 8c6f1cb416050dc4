"""The evaluation engine on tiny randomly initialised Hugging Face models (needs the eval extra)."""

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, tiny_model

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from taskladder.evaluation import (  # noqa: E402
    MCItem,
    MCTask,
    Scorer,
    evaluate_task,
    load_model,
    task_metrics,
    text_loss,
)

TEXT = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings and "
        "arrows of outrageous fortune, or to take arms against a sea of troubles. ") * 20


def make_model(folder, hidden=32, layers=2, seed=0):
    return tiny_model(folder, TEXT, hidden, layers, seed)


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    model, tok = load_model(make_model(tmp_path_factory.mktemp("m")))
    return Scorer(model, tok)


PREFIX = "Question: What is two plus two?\nAnswer: four\n\n"
QUESTIONS = ["Question: What color is the sky?\nAnswer:", "Question: Who wrote Hamlet?\nAnswer:"]
CHOICES = [[" blue", " green light of the sea", " red"], [" Shakespeare", " Marlowe"]]


def test_cached_loglikelihoods_equal_naive(scorer):
    ll, ntok = scorer.loglikelihoods(PREFIX, QUESTIONS, CHOICES)
    for q, c, l in zip(QUESTIONS, CHOICES, ll):
        assert np.abs(l - scorer.naive_loglikelihoods(PREFIX, q, c)).max() < 1e-4
    assert [len(x) for x in ntok] == [3, 2]
    # each choice's token count (what acc_per_token divides by): its tokens after the context
    for q, c, t in zip(QUESTIONS, CHOICES, ntok):
        ctx = scorer.tokenizer(PREFIX + q, add_special_tokens=False)["input_ids"]
        whole = [scorer.tokenizer(PREFIX + q + x, add_special_tokens=False)["input_ids"] for x in c]
        assert list(t) == [len(w) - len(ctx) for w in whole] and min(t) >= 1 and len(set(t)) > 1


def test_metrics_by_hand():
    task = MCTask("toy", "", (MCItem("q1", (" ab", " abcd"), 1), MCItem("q2", (" x", " yy"), 0)))
    ll = [np.array([-2.0, -3.0]), np.array([-1.0, -0.5])]
    ntok = [np.array([1, 3]), np.array([1, 1])]
    # OLMES's convention: the leading space counts (the others: tests/test_conventions.py)
    m = task_metrics(task, ll, ntok, [np.array([-1.0, -3.5]), np.array([-2.0, -0.4])], convention="olmes")
    # raw: item 1 picks choice 0 (wrong), item 2 picks choice 1 (wrong)
    assert m["acc_raw"] == 0.0
    # per token: -2/1 vs -1 -> choice 1 right; item 2 -1 vs -0.5 -> wrong
    assert m["acc_per_token"] == 0.5
    # per char (leading space counted): -2/3 vs -3/5 -> choice 1 right; -1/2 vs -0.5/3 -> wrong
    assert m["acc_per_char"] == 0.5
    # uncond: -1 vs 0.5 -> right; 1 vs -0.1 -> right
    assert m["acc_uncond"] == 1.0
    assert m["acc"] == m["acc_per_char"]
    assert m["bpb"] == pytest.approx(np.mean([3.0 / (5 * math.log(2)), 1.0 / (2 * math.log(2))]))
    z1, z2 = np.array([-2 / 3, -3 / 5]), np.array([-1 / 2, -0.5 / 3])
    ce = np.mean([-(z1[1] - np.logaddexp.reduce(z1)), -(z2[0] - np.logaddexp.reduce(z2))])
    assert m["taskce"] == pytest.approx(ce)


def test_evaluate_task_and_text_loss(scorer):
    task = MCTask("toy", PREFIX, tuple(MCItem(q, tuple(c), 0) for q, c in zip(QUESTIONS, CHOICES)))
    m = evaluate_task(scorer, task)
    assert set(m) >= {"bpb", "acc", "taskce", "acc_raw", "acc_per_token", "acc_per_char", "acc_uncond"}
    assert m["bpb"] > 0 and 0 <= m["acc"] <= 1
    # scored per token, TaskCE divides each choice's log-likelihood by its token count
    per_token = replace(task, primary="acc_per_token")
    ll, ntok = scorer.loglikelihoods(PREFIX, QUESTIONS, CHOICES)
    llu, _ = scorer.loglikelihoods(task.uncond_context, ["", ""], CHOICES)
    assert evaluate_task(scorer, per_token) == pytest.approx(task_metrics(per_token, ll, ntok, llu), abs=1e-6)
    # an untrained model over a ~320-token vocabulary: loss near log(320)
    assert abs(text_loss(scorer, TEXT, 64) - math.log(320)) < 1.0


def test_context_longer_than_window_is_a_user_error(scorer):
    from taskladder.errors import TaskladderError

    with pytest.raises(TaskladderError, match="exceeds the model's window of 256"):
        scorer.loglikelihoods("word " * 400, ["q"], [[" a"]])


def _task_file(path):
    items = [{"question": q, "choices": c, "gold": 0} for q, c in zip(QUESTIONS, CHOICES)]
    path.write_text(json.dumps({"name": "piqa", "prefix": PREFIX, "primary": "acc_per_char", "items": items}))
    return path


def test_evaluate_then_predict_end_to_end(tmp_path):
    task = _task_file(tmp_path / "toy.json")
    heldout = tmp_path / "heldout.txt"
    heldout.write_text(TEXT)
    out = tmp_path / "results.parquet"
    sizes = {"S1": (16, 1), "S2": (24, 1), "S3": (32, 2)}
    n_of = {}
    for size, (hidden, layers) in sizes.items():
        for mult in (1, 2):
            run = f"{size}-{mult}xC"
            cks = [make_model(tmp_path / run / f"step{s}", hidden, layers, seed=s + mult) for s in (10 * mult, 20 * mult)]
            n_of[size] = layers * (16 * hidden * hidden + 4 * hidden) + hidden + 320 * hidden
            r = run_cli("evaluate", *cks, "--task-file", task, "--run-name", run, "--params", n_of[size],
                        "--batch-tokens", "1000", "--out", out, "--heldout", heldout)
            assert r.returncode == 0 and r.stderr == "", r.stderr  # no progress bar, nor its blank line, in a pipe
    df = pd.read_parquet(out)
    assert set(df["metric"]) == {"bpb", "acc", "taskce", "lm_loss"}
    assert set(df[df["metric"] == "lm_loss"]["task"]) == {"c4_en"}  # feeds the C4-loss pipeline
    assert df["run"].nunique() == 6 and set(df["step"]) == {10, 20, 40}
    # resumable: a second run skips everything and leaves the table as it was
    r = run_cli("evaluate", tmp_path / "S1-1xC" / "step10", "--task-file", task, "--run-name", "S1-1xC", "--params",
                n_of["S1"], "--batch-tokens", "1000", "--out", out)
    assert r.returncode == 0 and "already done" in r.stdout
    assert len(pd.read_parquet(out)) == len(df)
    # other questions of a task already scored are refused, not skipped as "already done": the
    # fingerprints of what the rows were scored on sit beside the table
    record = json.loads((tmp_path / ".results.parquet.questions.json").read_text())
    assert set(record) == {"heldout:c4_en", "piqa"} and all(len(v) == 16 for v in record.values())
    r = run_cli("evaluate", tmp_path / "S1-1xC" / "step10", "--task-file", task, "--run-name", "S1-1xC", "--params",
                n_of["S1"], "--batch-tokens", "1000", "--out", out, "--limit", "1")
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"taskladder: error: {out}: scored on other questions of piqa (another --limit, --seed, task file or corpus); "
        "score into a new file or folder, or delete it to score again"], r.stderr
    assert len(pd.read_parquet(out)) == len(df)
    # predict reads the evaluation output directly
    r = run_cli("predict", "--paper", "--ladder", out, "--n", "1e6", "--tokens", "1e9", "--task", "piqa", "--json")
    assert r.returncode == 0, r.stderr
    assert 0 <= json.loads(r.stdout)["predictions"][0]["predicted"] <= 1


def test_evaluate_bad_inputs(tmp_path):
    task = _task_file(tmp_path / "toy.json")
    r = run_cli("evaluate", tmp_path / "nope" / "step1", "--task-file", task, "--run-name", "r-1xC", "--params", "1e6",
                "--batch-tokens", "100", "--out", tmp_path / "o.parquet")
    assert r.returncode == 2 and "no such checkpoint folder" in r.stderr
    folder = tmp_path / "step5"
    folder.mkdir()
    r = run_cli("evaluate", folder, "--task-file", task, "--run-name", "r-1xC", "--params", "1e6",
                "--batch-tokens", "100", "--out", tmp_path / "o.parquet")
    assert r.returncode == 2 and "not a model folder" in r.stderr
    (tmp_path / "bad.json").write_text("{}")
    r = run_cli("evaluate", folder, "--task-file", tmp_path / "bad.json", "--run-name", "r-1xC", "--params", "1e6",
                "--batch-tokens", "100", "--out", tmp_path / "o.parquet")
    assert r.returncode == 2 and "not a task file" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "blank.txt").write_text(" \n")  # a held-out text with nothing in it: said before any model loads
    r = run_cli("evaluate", folder, "--task-file", task, "--run-name", "r-1xC", "--params", "1e6",
                "--batch-tokens", "100", "--heldout", tmp_path / "blank.txt", "--out", tmp_path / "o.parquet")
    assert r.returncode == 2 and r.stderr.strip().endswith("blank.txt: the held-out text is empty"), r.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_bundled_olmes_tasks(scorer):
    from taskladder.evaluation import bundled_task, bundled_tasks

    names = bundled_tasks()
    for t in ("hellaswag", "arc_challenge", "arc_easy", "piqa", "csqa", "socialiqa", "openbookqa", "boolq"):
        assert t in names and f"{t}_mc" in names
    piqa = bundled_task("piqa")
    assert len(piqa.items) == 1838 and piqa.primary == "acc_per_char"  # PIQA val, OLMES primary metric
    assert piqa.prefix.count("Goal:") == 5 and piqa.items[0].choices[0].startswith(" ")  # 5-shot, leading space
    arc = bundled_task("arc_challenge_mc", limit=3)
    assert len(arc.items) == 3 and arc.items[0].choices == (" A", " B", " C", " D")
    # a 5-shot HellaSwag context is longer than the tiny model's 256-token window: one clear error
    from taskladder.errors import TaskladderError

    with pytest.raises(TaskladderError, match="exceeds the model's window"):
        evaluate_task(scorer, bundled_task("hellaswag", limit=1))


def test_torchrun_two_processes_match_one(tmp_path):
    import subprocess
    import sys

    task = _task_file(tmp_path / "toy.json")
    cks = [make_model(tmp_path / "r" / f"step{s}", seed=s) for s in (1, 2, 3, 4)]
    args = ["evaluate", *map(str, cks), "--task-file", str(task), "--run-name", "T-1xC", "--params", "1e5",
            "--batch-tokens", "100"]
    one = run_cli(*args, "--out", tmp_path / "one.parquet")
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "taskladder.cli", *args, "--out", str(tmp_path / "two.parquet")],
                         capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-2000:]
    a = pd.read_parquet(tmp_path / "one.parquet").sort_values(["step", "task", "metric"]).reset_index(drop=True)
    b = pd.read_parquet(tmp_path / "two.parquet").sort_values(["step", "task", "metric"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)
    assert not list(tmp_path.glob(".two.rank*"))  # shards merged and removed


def test_mc_rows_and_more_bad_inputs(tmp_path):
    from taskladder.evaluation import result_rows

    mc = MCTask("arc_easy_mc", "", (MCItem("q", (" A", " B"), 0),))
    assert result_rows(mc, {"acc_raw": 0.5}) == [("arc_easy", "mc_acc", 0.5)]
    # a tokenizer larger than the model's vocabulary
    folder = make_model(tmp_path / "m" / "step1")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["vocab_size"] = 100
    (folder / "config.json").write_text(json.dumps(cfg))
    r = run_cli("evaluate", folder, "--task", "piqa", "--run-name", "r-1xC", "--params", "1e6",
                "--batch-tokens", "100", "--out", tmp_path / "o.parquet", "--limit", "2")
    assert r.returncode == 2 and "tokenizer has" in r.stderr and "Traceback" not in r.stderr
    # not a causal language model
    cfg["vocab_size"] = 320
    cfg["model_type"] = "t5"
    (folder / "config.json").write_text(json.dumps(cfg))
    r = run_cli("evaluate", folder, "--task", "piqa", "--run-name", "r-1xC", "--params", "1e6",
                "--batch-tokens", "100", "--out", tmp_path / "o.parquet")
    assert r.returncode == 2 and "not a causal language model" in r.stderr
    r = run_cli("evaluate", folder, "--task", "piqa_xx", "--run-name", "r-1xC", "--params", "1e6",
                "--batch-tokens", "100", "--out", tmp_path / "o.parquet")
    assert r.returncode == 2 and "unknown task 'piqa_xx'" in r.stderr


def test_group_prefixes_and_per_choice_contexts_equal_naive(scorer):
    # MMLU-style: each group has its own few-shot prefix; Winogrande-style: one context per choice
    task = MCTask("mixed", "", (
        MCItem("Question: Who wrote Hamlet?\nAnswer:", (" Shakespeare", " Marlowe"), 0, "a", group="lit"),
        MCItem("Question: What is 2+2?\nAnswer:", (" four", " five", " six"), 0, "b", group="math"),
        MCItem("", (" went home.", " went home."), 1, "c",
               contexts=("The sky was blue so Tom", "The sky was blue so Ann")),
    ), primary="acc_raw", prefixes={"lit": "Question: Who wrote Lear?\nAnswer: Shakespeare\n\n",
                                    "math": "Question: What is 1+1?\nAnswer: two\n\n"})
    m = evaluate_task(scorer, task)
    want = [scorer.naive_loglikelihoods(task.prefixes["lit"], task.items[0].question, task.items[0].choices),
            scorer.naive_loglikelihoods(task.prefixes["math"], task.items[1].question, task.items[1].choices),
            np.array([scorer.naive_loglikelihoods("", c, [" went home."])[0] for c in task.items[2].contexts])]
    ntok = [np.array([len(scorer.tokenizer(c, add_special_tokens=False)["input_ids"]) for c in it.choices])
            for it in task.items]
    ref = task_metrics(task, want, ntok)  # no unconditional score: Winogrande's choices are one continuation
    assert "acc_uncond" not in m
    for k in ("bpb", "acc_raw", "taskce", "acc_per_char"):
        assert m[k] == pytest.approx(ref[k], abs=1e-5)
    with pytest.raises(Exception, match="no prefix for group"):
        MCTask("bad", "", (MCItem("q", (" a",), 0, group="zz"),))


def test_bundled_mmlu_and_winogrande_in_olmes_format():
    from taskladder.evaluation import bundled_task

    m = bundled_task("mmlu")
    assert len(m.items) == 14042 and len(m.prefixes) == 57
    cats = m.meta["categories"]
    counts = pd.Series([cats[it.group] for it in m.items]).value_counts(normalize=True)
    from taskladder.tasks import MMLU_WEIGHTS

    for cat, w in MMLU_WEIGHTS.items():  # the data card's weights are the question shares
        assert counts[cat] == pytest.approx(w, abs=5e-4)
    first = next(it for it in m.items if it.group == "anatomy")
    assert m.prefixes["anatomy"].startswith(
        "The following are multiple choice questions (with answers) about anatomy:\n\nQuestion: What is the "
        "embryological origin of the hyoid bone?\nAnswer: The second and third pharyngeal arches\n\n")
    assert m.prefixes["anatomy"].count("\nAnswer: ") == 5
    assert first.question.startswith("Question: ") and first.question.endswith("\nAnswer:")
    assert all(c.startswith(" ") for c in first.choices) and m.primary == "acc_per_char"
    mc = bundled_task("mmlu_mc", limit=2)
    assert len(mc.items) == 2 * 57 and mc.items[0].choices == (" A", " B", " C", " D")
    assert "\nA. " in mc.items[0].question and mc.items[0].question.endswith("\nAnswer:")
    w = bundled_task("winogrande")
    assert len(w.items) == 1267 and w.primary == "acc_raw"
    it = w.items[0]
    assert it.contexts == ("Sarah was a much better surgeon than Maria so Sarah",
                           "Sarah was a much better surgeon than Maria so Maria")
    assert it.choices == (" always got the easier cases.",) * 2 and it.gold == 1
    assert w.prefix.count("\n\n") == 5


def test_left_truncation_of_overlong_contexts(tmp_path):
    model, tok = load_model(make_model(tmp_path / "m"))
    sc = Scorer(model, tok, max_length=40, overlong="truncate")
    long_q = "Question: " + "why " * 60 + "?\nAnswer:"
    ll, nt = sc.loglikelihoods("", [long_q, "Question: short?\nAnswer:"], [[" yes", " no"], [" yes", " no"]])
    # Expected values computed here with the model and tokenizer alone, not the scorer's helpers:
    # choice tokens = tok(context + choice) minus tok(context); the context is cut from the left
    # so the longest choice still fits in 40 tokens; one plain forward pass, log-softmax, sum.
    ctx = tok(long_q, add_special_tokens=False)["input_ids"]
    cids = {ch: tok(long_q + ch, add_special_tokens=False)["input_ids"][len(ctx):] for ch in (" yes", " no")}
    assert all(tok(long_q + ch, add_special_tokens=False)["input_ids"][:len(ctx)] == ctx for ch in cids)
    keep = ctx[len(ctx) + max(map(len, cids.values())) - 40:]
    for j, ch in enumerate((" yes", " no")):
        ids = keep + cids[ch]
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), dim=-1)
        want = sum(float(lp[len(keep) - 1 + i, t]) for i, t in enumerate(cids[ch]))
        assert ll[0][j] == pytest.approx(want, abs=1e-5)
    assert ll[1] == pytest.approx(sc.naive_loglikelihoods("", "Question: short?\nAnswer:", [" yes", " no"]), abs=1e-4)
    with pytest.raises(Exception, match="exceeds the model's window of 40"):
        Scorer(model, tok, max_length=40).loglikelihoods("", [long_q], [[" yes"]])


def test_batched_text_loss_equals_window_by_window(scorer):
    for text, w in ((TEXT, 64), (TEXT[:150], None)):
        ids = scorer.tokenizer(text, add_special_tokens=False)["input_ids"]
        # None: a window leaving a last one of a single prediction (two tokens), a large share of a short text
        w = w or next(w for w in range(4, 40) if (len(ids) - 1) % w == 1)
        total, count = 0.0, 0
        for s in range(0, len(ids) - 1, w):
            chunk = ids[s: s + w + 1]
            lp, _ = scorer._forward(chunk[:-1])
            total -= float(sum(lp[0, i, t] for i, t in enumerate(chunk[1:])))
            count += len(chunk) - 1
        assert count == len(ids) - 1
        assert text_loss(scorer, text, w, batch=3) == pytest.approx(total / count, rel=1e-5), w


def test_a_choice_longer_than_the_window_is_an_error_even_when_truncating(tmp_path):
    model, tok = load_model(make_model(tmp_path / "m"))
    sc = Scorer(model, tok, max_length=16, overlong="truncate")
    with pytest.raises(Exception, match="does not fit the model's window of 16 with any context"):
        sc.loglikelihoods("", ["Question: q?\nAnswer:"], [[" " + "word " * 40]])
    # exactly the window: no token left for a context either
    from taskladder import tokenized as tk

    ctx = "Question: q?\nAnswer:"
    ctx_ids = tk.encode(tok, ctx)
    sixteen = next(c for k in range(1, 40) for c in (" " + "a b" * k, " " + "word " * k)
                   if len(tk.choice_tokens(tok, ctx, c, ctx_ids)) == 16)
    with pytest.raises(Exception, match="a choice of 16 tokens does not fit the model's window of 16"):
        sc.loglikelihoods("", [ctx], [[sixteen]])


def test_choice_tokens_where_the_context_and_choice_merge():
    """A choice's tokens are tok(context + choice) past tok(context); where the joint tokenization
    merges across the boundary (it does not start with the context's tokens), or the choice adds no
    token of its own, the choice is encoded alone, as the harnesses do."""
    from taskladder.tokenized import choice_tokens

    def chars(text, add_special_tokens=False):  # one token per character
        return {"input_ids": [ord(c) for c in text]}

    assert choice_tokens(chars, "ab", "cd", [97, 98]) == [99, 100]
    assert choice_tokens(chars, "ab", "cd", [97, 98], whole=[97, 7, 100]) == [99, 100]  # "bc" merged into 7
    assert choice_tokens(chars, "ab", "cd", [97, 98], whole=[97, 98]) == [99, 100]  # nothing past the context


def test_pack_choices_layout_by_hand():
    # one question with 2 context tokens after a shared prefix of 2, choices [7, 8] and [9]:
    # fed are 5 6 7 (a choice's last token is only predicted); 7 and 9 are predicted from the
    # question's last column, 8 from 7's; choice 1's token sits at position 2 + 2 = 4
    from taskladder.evaluation import pack_choices

    pk = pack_choices([[5, 6]], [[[7, 8], [9]]], S=2, pad=0)
    assert pk.ids.tolist() == [[5, 6, 7]] and pk.pos.tolist() == [[2, 3, 4]]
    assert pk.row.tolist() == [0, 0, 0] and pk.col.tolist() == [1, 2, 1]
    assert pk.target.tolist() == [7, 8, 9] and pk.owner.tolist() == [0, 0, 1]
    # columns: the prefix (0, 1), then the row's own tokens (2, 3, 4)
    assert pk.allow[0].astype(int).tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    # two questions: the shorter row is padded, and its padding sees only itself
    pk = pack_choices([[5], [6, 6]], [[[7]], [[8, 8]]], S=0, pad=-1)
    assert pk.ids.tolist() == [[5, -1, -1], [6, 6, 8]]
    assert pk.allow[0].astype(int).tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_an_earlier_checkpoint_scored_later_keeps_the_table_readable(tmp_path):
    """The final checkpoint scored first and the earlier ones backfilled: each series stays in step
    order and the table reads back as the one scored in one go."""
    from taskladder.evaluation import bundled_task, discover_checkpoints, evaluate_to_table, zero_shot
    from taskladder.results import read_results

    cks = [make_model(tmp_path / "S1-1xC" / f"step{s}", seed=s) for s in (10, 20, 30)]
    task = [zero_shot(bundled_task("piqa", limit=2))]
    found = {c.name: discover_checkpoints([c], run="S1-1xC", n=10_000, batch_tokens=1000) for c in cks}
    backfilled, at_once = tmp_path / "backfilled.csv", tmp_path / "at_once.csv"
    for name in ("step30", "step10", "step20"):
        evaluate_to_table(found[name], task, backfilled)
        read_results([backfilled])  # readable after every call
    evaluate_to_table(discover_checkpoints(cks, run="S1-1xC", n=10_000, batch_tokens=1000), task, at_once)
    a, b = read_results([backfilled]), read_results([at_once])
    assert pd.read_csv(backfilled)["step"].tolist()[:3] == [10, 20, 30]  # bpb's series first, in step order
    key = ["run", "step", "task", "metric"]
    assert a.sort_values(key, ignore_index=True).equals(b.sort_values(key, ignore_index=True))


def test_checkpoint_folders_of_other_trainers_give_their_step(tmp_path):
    """`evaluate` reads the step from Hugging Face Trainer's `checkpoint-N` folders as from OLMo's `stepN`."""
    from taskladder.errors import TaskladderError
    from taskladder.evaluation import discover_checkpoints

    names = ["checkpoint-2000", "step1000", "checkpoint-500", "iter_0003000"]
    for name in names:
        (tmp_path / "S1-1xC" / name).mkdir(parents=True)
    cks = discover_checkpoints([tmp_path / "S1-1xC" / x for x in names], run="S1-1xC", n=10_000, batch_tokens=1000)
    assert [(c["step"], c["d"]) for c in cks] == [(500, 500_000), (1000, 1_000_000), (2000, 2_000_000),
                                                  (3000, 3_000_000)]
    (tmp_path / "S1-1xC" / "final").mkdir()
    with pytest.raises(TaskladderError, match="final: cannot read the step from the folder name"):
        discover_checkpoints([tmp_path / "S1-1xC" / "final"], run="S1-1xC", n=10_000, batch_tokens=1000)


def test_a_checkpoint_with_the_same_tokenizer_scores_from_the_tokens_already_made(tmp_path, monkeypatch):
    # a run's checkpoints each load their own copy of one tokenizer: the requests are tokenized for
    # the first and kept (by the tokenizer's content), so the next scores its own model on them
    from taskladder import tokenized as tk

    monkeypatch.setattr(tk, "KEPT", type(tk.KEPT)())
    first = Scorer(*load_model(make_model(tmp_path / "a")))
    ll_a, nt_a = first.loglikelihoods(PREFIX, QUESTIONS, CHOICES)
    calls = []
    real = tk.encode_many
    monkeypatch.setattr(tk, "encode_many", lambda tok, texts: calls.append(len(texts)) or real(tok, texts))
    second = Scorer(*load_model(make_model(tmp_path / "b", seed=1)))  # other weights, the same tokenizer
    ll_b, nt_b = second.loglikelihoods(PREFIX, QUESTIONS, CHOICES)
    assert calls == [] and len(tk.KEPT) == 1
    assert all(np.array_equal(x, y) for x, y in zip(nt_a, nt_b))
    assert not np.allclose(np.concatenate(ll_a), np.concatenate(ll_b))  # its own model's values
    for q, c, v in zip(QUESTIONS, CHOICES, ll_b):
        assert np.abs(v - second.naive_loglikelihoods(PREFIX, q, c)).max() < 1e-4
    # tokenized afresh, the same values to the bit
    tk.KEPT.clear()
    again, _ = second.loglikelihoods(PREFIX, QUESTIONS, CHOICES)
    assert calls == [2, 5] and all(np.array_equal(x, y) for x, y in zip(again, ll_b))
    # a tokenizer of other content (another vocabulary) is not served another's tokens
    other = Scorer(*load_model(tiny_model(tmp_path / "c", TEXT, vocab=280)))
    other.loglikelihoods(PREFIX, QUESTIONS, CHOICES)
    assert calls == [2, 5, 2, 5] and len(tk.KEPT) == 2
    # a window of another length is another request (what is truncated, or refused, differs)
    Scorer(second.model, second.tokenizer, max_length=200).loglikelihoods(PREFIX, QUESTIONS, CHOICES)
    assert calls == [2, 5, 2, 5, 2, 5]
    # the least recently used go first past KEEP_TOKENS tokens
    monkeypatch.setattr(tk, "KEEP_TOKENS", 1)
    second.loglikelihoods(PREFIX, QUESTIONS[:1], CHOICES[:1])
    assert len(tk.KEPT) == 1 and next(iter(tk.KEPT.values())).n == 1


def test_what_a_resumed_evaluation_skips_and_keeps(tmp_path):
    """The keys of rows already scored (an MC task's rows are stored as <task>/mc_acc, scored as
    <task>_mc; a held-out loss counts for its own corpus only), which checkpoints still need a
    model loaded, a task file's own MC format, a trainer checkpoint's size, and a questions
    record left beside a table that has no rows (deleted since) ignored."""
    from taskladder.errors import TaskladderError
    from taskladder.evaluation import (check_questions, discover_checkpoints, done_keys, needs_scoring,
                                       questions_record, result_rows)

    table = pd.DataFrame({"run": ["r-1xC"] * 4, "step": [10, 10, 10, 20], "task": ["piqa", "arc_easy", "c4_en", "wiki"],
                          "metric": ["acc", "mc_acc", "lm_loss", "lm_loss"], "value": 0.5})
    done = done_keys(table, "c4_en")
    assert done == {("r-1xC", 10, "piqa"), ("r-1xC", 10, "arc_easy_mc"), ("r-1xC", 10, "c4_en"),
                    ("r-1xC", 20, "wiki"), ("r-1xC", 10, "lm")}
    tasks = [MCTask(name, "", (MCItem("q", (" A", " B"), 0),)) for name in ("piqa", "arc_easy_mc")]
    assert not needs_scoring({"run": "r-1xC", "step": 10}, tasks, "text", done)
    assert needs_scoring({"run": "r-1xC", "step": 20}, [], "text", done)  # its held-out loss is another corpus's
    assert not needs_scoring({"run": "r-1xC", "step": 20}, [], None, done)
    own_mc = MCTask("mytask", "", (MCItem("q", (" A", " B"), 0),), meta={"format": "mc"})
    assert result_rows(own_mc, {"acc_raw": 0.25}) == [("mytask", "mc_acc", 0.25)]
    ck = tmp_path / "copied" / "step7"
    ck.mkdir(parents=True)
    (ck / "taskladder.json").write_text(json.dumps({"run": "wide-a", "size": "3k", "n": 3071, "batch_tokens": 128}))
    (got,) = discover_checkpoints([ck])
    assert {k: got[k] for k in ("run", "size", "n", "step", "d")} == {"run": "wide-a", "size": "3k", "n": 3071,
                                                                     "step": 7, "d": 896}
    out = tmp_path / "results.csv"
    record = questions_record(out)
    record.write_text(json.dumps({"piqa": "0" * 16}))  # left by a table since deleted
    assert check_questions(record, tasks[:1], {}, out, scored=False)["piqa"] != "0" * 16
    with pytest.raises(TaskladderError, match="scored on other questions of piqa"):
        check_questions(record, tasks[:1], {}, out, scored=True)
