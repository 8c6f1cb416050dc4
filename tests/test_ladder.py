"""Ladder planning rules, checked against what the paper's ladder actually logged."""

import json

import pytest
from conftest import run_cli

from taskladder.datasets import olmo2_ladder
from taskladder.errors import TaskladderError
from taskladder.ladder import PAPER_SHAPES, PlanConfig, non_embedding_params, plan

# Data card (paper Table 1): N and batch tokens of each size.
TABLE1 = {"190M": (190_354_176, 524_288), "370M": (371_262_464, 786_432),
          "760M": (758_220_288, 1_310_720), "1B": (1_279_395_840, 1_572_864)}


def test_parameter_count_worked_example():
    # 12 x 9,440,256 + 768 (final norm) + 100,352 x 768 (LM head)
    assert non_embedding_params(PAPER_SHAPES["190M"]) == 12 * 9_440_256 + 768 + 100_352 * 768 == 190_354_176


def test_plan_reproduces_the_paper_ladder():
    rungs = {r.name: r for r in plan()}
    assert len(rungs) == 16
    logs = olmo2_ladder().ladder
    for size, (n, batch) in TABLE1.items():
        for m in (1, 2, 5, 10):
            r = rungs[f"{size}-{m}xC"]
            assert r.n == n and r.batch_tokens == batch and r.batch_tokens == r.batch_sequences * 4096
            assert r.tokens == m * 20 * n
            assert r.warmup_steps == round(n / batch)  # warmup = N tokens
            assert r.final_lr == pytest.approx(0.1 * r.peak_lr)
            run = logs[logs["run"] == r.name]
            # the logged batch size and steps of the real run
            assert run["d"].max() == run["step"].max() * batch
            last_step = run["step"].max()
            assert abs(r.steps - last_step) / last_step <= 0.002  # trainer ran ~10 steps past 20N tokens
            # checkpoints every 200/200/500/1000 steps, as logged
            assert run["step"].drop_duplicates().sort_values().diff().median() == r.checkpoint_interval
    # peak learning rates as the runs logged them (learning_rate_peak, printed to 8 decimals)
    logged_lr = {"190M": 0.00097273, "370M": 0.00077855, "760M": 0.00061364, "1B": 0.00051544}
    for size, lr in logged_lr.items():
        assert round(rungs[f"{size}-1xC"].peak_lr, 8) == lr


def test_plan_2048_token_sequences_doubles_the_batch_and_lr_rule():
    r4 = plan(PlanConfig(sizes=("190M",), multiples=(1,)))[0]
    r2 = plan(PlanConfig(sizes=("190M",), multiples=(1,), seq_len=2048))[0]
    assert r2.peak_lr == pytest.approx(4 * r4.peak_lr)
    assert r2.batch_sequences == 256  # 160 (N/108M)^(2/3) = 233.5, rounded to a multiple of 64


def test_plan_errors():
    with pytest.raises(TaskladderError, match="unknown size '42M'"):
        PlanConfig(sizes=("42M",))
    with pytest.raises(TaskladderError, match="over the budget"):
        plan(PlanConfig(budget_flops=1e18))
    with pytest.raises(TaskladderError, match="size 760M is given twice"):
        PlanConfig(sizes=("190M", "760M", "760M"))
    with pytest.raises(TaskladderError, match="multiple 5 is given twice"):
        PlanConfig(multiples=(1, 5, 5.0))
    with pytest.raises(TaskladderError, match="positive and finite, got -1"):
        PlanConfig(multiples=(1, -1))


def test_plan_cli_json_contract():
    r = run_cli("plan", "--json")
    assert r.returncode == 0, r.stderr
    rungs = json.loads(r.stdout)["rungs"]
    assert len(rungs) == 16
    for k in ("name", "n", "multiple", "batch_tokens", "peak_lr", "warmup_steps", "tokens", "steps"):
        assert k in rungs[0]
    r = run_cli("plan", "--sizes", "190M,5M")
    assert r.returncode == 2 and "unknown size '5M'" in r.stderr
    r = run_cli("plan", "--budget", "1e19")
    assert r.returncode == 2 and "over the budget" in r.stderr


def test_a_run_trains_at_least_its_tokens():
    # the plan's steps cover the tokens, the last partial batch a whole step: the 190M-1xC run's
    # 3,807,083,520 tokens are 7,261.4 batches of 524,288, so 7,262 steps (the logged run: 7,272)
    from taskladder.ladder import train_steps

    assert train_steps(3_807_083_520, 524_288) == 7_262
    assert train_steps(10, 5) == 2 and train_steps(11, 5) == 3
    for r in plan():
        assert r.steps * r.batch_tokens >= r.tokens > (r.steps - 1) * r.batch_tokens


def test_warmup_steps_match_the_logged_learning_rate():
    # The runs' logs (ladder/<size>-1xC.csv, first checkpoint): optim/learning_rate_group0
    # at step 200 and learning_rate_peak. Linear warmup from 0 gives lr = peak x 200 / warmup,
    # so the logged ratio pins each run's warmup steps: 363, 472, 578, 813.
    logged = {"190M": (0.0005359385778077217, 0.000972728518721015),
              "370M": (0.00032989325388070237, 0.0007785480791584576),
              "760M": (0.00021233233812496216, 0.0006136404571811406),
              "1B": (0.00012679931977746363, 0.0005154392348953896)}
    rungs = {r.size: r for r in plan() if r.multiple == 1}
    for size, (lr200, peak) in logged.items():
        implied = 200 * peak / lr200
        assert abs(implied - round(implied)) < 1e-6
        assert rungs[size].warmup_steps == round(implied)
        assert round(rungs[size].peak_lr, 12) == round(peak, 12)


def test_olmo_core_sizes_count_n_as_olmo_core_does():
    # the real package's own count of each OLMo 2 size (TransformerConfig.olmo2_<size>); the
    # paper's 1B is OLMo-core's olmo2_1B_v2 (16 layers; its "1B" has 18)
    tc = pytest.importorskip("olmo_core.nn.transformer").TransformerConfig
    from taskladder.ladder import SHAPES, VOCAB_SIZE

    names = {"14M": "14M", "30M": "30M", "60M": "60M", "100M": "100M", "190M": "190M", "370M": "370M",
             "600M": "600M", "760M": "760M", "1B": "1B_v2", "3B": "3B", "7B": "7B", "13B": "13B"}
    for ours, theirs in names.items():
        cfg = getattr(tc, f"olmo2_{theirs}")(vocab_size=VOCAB_SIZE)
        assert non_embedding_params(SHAPES[ours]) == cfg.num_non_embedding_params, ours
        assert SHAPES[ours].mlp_hidden == cfg.block.feed_forward.hidden_size, ours


def test_auto_sizes_give_the_papers_ladder_for_its_targets_and_scale_with_the_target():
    from taskladder.ladder import auto_sizes, plan_notes

    paper = ("190M", "370M", "760M", "1B")
    assert auto_sizes(6_887_575_552) == auto_sizes(13_202_396_160) == paper
    assert auto_sizes(70e9) == ("1B", "3B", "7B", "13B")
    assert auto_sizes(1e9) == ("30M", "60M", "100M", "190M")
    with pytest.raises(TaskladderError, match="no two OLMo 2 sizes fit below a target of N=1e"):
        auto_sizes(1e8)
    # the paper's ladder for its own target: nothing to warn about (3.2% of 7B-4T's compute)
    assert plan_notes(PlanConfig(), plan()) == []
    # the paper's sizes for a 1B, 100B-token target: a rung as large as it, and 859% of its compute
    small = PlanConfig(target_n=1_000_000_000, target_tokens=100_000_000_000)
    big, costly = plan_notes(small, plan(small))
    assert big.startswith("size 1B (N=1.28e+09) is not smaller than the target (N=1e+09)")
    assert costly.startswith("the ladder costs 859% of the target's compute")
    r = run_cli("plan", "--target-n", "1B", "--target-tokens", "100B", "--json")
    out = json.loads(r.stdout)
    assert out["config"]["sizes"] == ["30M", "60M", "100M", "190M"]
    assert len(out["notes"]) == 1 and "costs 18% of the target's compute" in out["notes"][0]
    assert json.loads(run_cli("plan", "--json").stdout)["config"]["sizes"] == list(paper)
