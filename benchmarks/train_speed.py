"""Training throughput: taskladder's trainer against a plain PyTorch loop, same model and batches.

The baseline is the loop a user writes first: ``Olmo2ForCausalLM(input_ids, labels)``,
backward, gradient clipping, ``torch.optim.AdamW`` with its defaults, on the very
batches taskladder's trainer sees.  The trainer does the same step plus z-loss,
its warmup/cosine schedule and a checkpoint at the end (counted in its time).

Run: python benchmarks/train_speed.py [--rung 42k-5xC] [--steps 60]
Prints tokens/s of each and, last, ``speedup=<x>`` (trainer over baseline).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from transformers import Olmo2ForCausalLM

from taskladder.ladder import PRESETS, plan
from taskladder.pipeline import bundled_corpus
from taskladder.training import Batches, TrainConfig, Trainer, lr_at, model_config


def baseline(trainer: Trainer, rung, steps: int) -> float:
    """Tokens/s of the plain loop over the trainer's own first ``steps`` batches."""
    torch.manual_seed(0)
    model = Olmo2ForCausalLM(model_config(rung, trainer.vocab_size, trainer.tokenizer))
    opt = torch.optim.AdamW(model.parameters(), lr=rung.peak_lr, betas=(0.9, 0.95), weight_decay=0.1)
    data = Batches(trainer.tokens, rung.seq_len + 1, rung.batch_sequences, 0)
    t0 = time.perf_counter()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, rung)
        x = torch.as_tensor(data.batch(step), dtype=torch.long)
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * rung.batch_tokens / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rung", default="42k-5xC", help="a rung of the micro preset")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3, help="best of this many timings of each")
    args = ap.parse_args()
    rungs = {r.name: r for r in plan(PRESETS["micro"])}
    rung = rungs[args.rung]
    print(f"rung {rung.name}: N={rung.n:,}, batch {rung.batch_sequences} x {rung.seq_len} tokens, "
          f"{args.steps} steps, {torch.get_num_threads()} threads")
    base, ours = [], []
    for _ in range(args.repeats):
        base.append(baseline(Trainer(TrainConfig(out_dir=Path("."), corpus=bundled_corpus()), 264), rung, args.steps))
        with tempfile.TemporaryDirectory() as d:
            tr = Trainer(TrainConfig(out_dir=Path(d), corpus=bundled_corpus(), max_steps=args.steps), 264)
            ours.append(tr.train(rung)["tokens_per_s"])
    b, o = max(base), max(ours)
    print(f"plain PyTorch loop: {b:,.0f} tokens/s")
    print(f"taskladder trainer: {o:,.0f} tokens/s")
    print(f"speedup={o / b:.2f}")


if __name__ == "__main__":
    main()
