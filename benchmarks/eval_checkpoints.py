"""Scoring many checkpoints of one run: the requests tokenized once, or for every checkpoint.

A ladder run's checkpoints share their tokenizer, so taskladder keeps each task's tokenized
requests between checkpoints (taskladder.tokenized's ``KEPT``).  This scores the same
OLMES 5-shot task (bundled) on ``--checkpoints`` checkpoints of a small randomly initialised
OLMo 2 model (2 layers x 64 by default: forward passes as cheap as a ladder's small models' on a GPU) (each loaded from its own folder, as ``taskladder evaluate`` loads them), once with
that cache emptied before every checkpoint (the baseline: what scoring cost before it) and once
with it kept, in the same process, and checks that both give the same metrics.  The last line
reads ``speedup=<x>``.

    python benchmarks/eval_checkpoints.py [--task hellaswag] [--questions 2000] [--checkpoints 4]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="hellaswag")
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--checkpoints", type=int, default=4)
    # a model whose forward passes are cheap, as a ladder's small models' are on a GPU (on this
    # machine's CPU an 8 x 512 model's forward passes take ~30x longer than the tokenizing)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from eval_speed import build_model

    from taskladder import evaluation as ev
    from taskladder import tokenized as tk

    task = ev.bundled_task(args.task, limit=args.questions)
    corpus = "".join(task.prefix_of(it) + it.question + "".join(it.choices) for it in task.items[:300])
    with tempfile.TemporaryDirectory() as d:
        build_model(str(Path(d) / "step0"), corpus, args.hidden, args.layers)
        folders = [Path(d) / "step0"] + [Path(d) / f"step{k}" for k in range(1, args.checkpoints)]
        for f in folders[1:]:  # the checkpoints: their own folders, their own tokenizer files
            shutil.copytree(folders[0], f)

        def score(keep: bool) -> tuple[float, list]:
            tk.KEPT.clear()
            t = time.perf_counter()
            got = []
            for f in folders:
                if not keep:
                    tk.KEPT.clear()
                model, tok = ev.load_model(f)
                got.append(ev.evaluate_task(ev.Scorer(model, tok), task))
            return time.perf_counter() - t, got

        t_base, base = score(keep=False)
        t_kept, kept = score(keep=True)
    assert kept == base, "the kept tokens changed a metric"
    print(f"task {args.task}: {len(task.items)} questions, 5-shot, {args.checkpoints} checkpoints of a "
          f"{args.layers}x{args.hidden} OLMo 2 model, CPU fp32")
    print(f"tokenized for every checkpoint: {t_base:7.2f} s ({t_base / args.checkpoints:.2f} s a checkpoint)")
    print(f"tokenized once:                 {t_kept:7.2f} s ({t_kept / args.checkpoints:.2f} s a checkpoint)")
    print(f"speedup={t_base / t_kept:.2f}")


if __name__ == "__main__":
    main()
