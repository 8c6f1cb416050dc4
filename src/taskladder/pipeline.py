"""From nothing to a prediction: plan -> train -> evaluate -> fit -> predict -> report.

``taskladder run --preset micro`` runs the whole method on one CPU: a micro ladder of
byte-level OLMo 2 models trained on a small corpus (the bundled Tiny Shakespeare),
scored zero-shot on OLMES questions, fitted, and used to predict its own largest rung,
which is held out of every fit so the prediction can be checked.

What a micro ladder can and cannot show: models of 3k-60k parameters trained on
Shakespeare answer multiple-choice science and common-sense questions at chance,
so their accuracy carries no signal and step 2 has nothing to fit.  Their task loss
(bits per byte of the gold answer) and held-out loss do fall with N and D, so step 1
is tested for real.  The summary says so next to the numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import io
from .errors import TaskladderError
from .ladder import PRESETS, Rung, plan

#: Tasks a micro ladder is scored on: zero-shot (their 5-shot prefixes do not fit a
#: 256-byte window), the shortest OLMES questions.
MICRO_TASKS = ("arc_easy", "csqa", "openbookqa", "socialiqa")
HELDOUT = "heldout_text"


@dataclass(frozen=True)
class RunConfig:
    """Options of :func:`run` beyond the plan."""

    out_dir: Path
    """Folder for checkpoints, results, predictions and the report."""
    corpus: Path
    """Training corpus (default in the CLI: the bundled Tiny Shakespeare)."""
    preset: str = "micro"
    """A :data:`taskladder.ladder.PRESETS` name."""
    tasks: tuple[str, ...] = MICRO_TASKS
    """Bundled OLMES tasks to score, zero-shot."""
    limit: int = 100
    """Questions per task."""
    seed: int = 0
    """Seed of weights and data order."""

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise TaskladderError(f"unknown preset {self.preset!r}; choose from {', '.join(PRESETS)}")
        if self.limit <= 0:
            raise TaskladderError(f"limit must be positive, got {self.limit}")


def bundled_corpus() -> Path:
    """Path of the bundled Tiny Shakespeare text (Karpathy's char-rnn data, see data/corpus/NOTICE.md)."""
    from importlib import resources

    return Path(str(resources.files("taskladder") / "data" / "corpus" / "tinyshakespeare.txt"))


def checkpoint_list(out_dir: Path, rungs: list[Rung]) -> list[dict]:
    """Every finished checkpoint of the plan's runs, as ``evaluate_checkpoints`` wants them."""
    from .training import Trainer

    cks = []
    for r in rungs:
        for step, path in Trainer.checkpoints(Path(out_dir) / r.name):
            cks.append({"path": path, "run": r.name, "size": r.size, "n": r.n, "step": step,
                        "d": step * r.batch_tokens})
    return cks


def run(config: RunConfig, console=None) -> dict:
    """The whole pipeline; every stage resumes from what is already on disk."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .chain import PAPER, Ladder, predict_targets
    from .datasets import Target
    from .evaluation import bundled_task, done_keys, evaluate_checkpoints, zero_shot
    from .results import read_results
    from .training import TrainConfig, Trainer

    out = io.ensure_writable_dir(config.out_dir)
    pcfg = PRESETS[config.preset]
    rungs = plan(pcfg)
    target_rung = max(rungs, key=lambda r: (r.n, r.multiple))
    timings = {}
    bar = dict(console=console, disable=console is None or not console.is_terminal)
    cols = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), TimeRemainingColumn())

    # 1-2. plan and train
    t0 = time.perf_counter()
    trainer = Trainer(TrainConfig(out_dir=out / "runs", corpus=config.corpus, seed=config.seed), pcfg.vocab_size)
    trainer.check_plan(rungs)
    io.write_bytes_atomic(out / "heldout.txt", trainer.heldout.encode("utf-8"))
    io.write_bytes_atomic(out / "plan.json", io.dumps({"rungs": [r.as_dict() for r in rungs]}).encode())
    with Progress(*cols, **bar) as prog:
        tid = prog.add_task("training", total=sum(r.steps for r in rungs))
        base = 0

        def advance(rung, step, last, loss):
            prog.update(tid, completed=base + step, description=f"training {rung.name} loss {loss:.3f}")

        trainer.progress = advance
        summaries = []
        for r in rungs:
            summaries.append({k: v for k, v in trainer.train(r).items() if k != "losses"})
            base += r.steps
    timings["train_s"] = time.perf_counter() - t0

    # 3. evaluate every checkpoint (zero-shot tasks + held-out text loss)
    t0 = time.perf_counter()
    tasks = [zero_shot(bundled_task(t, config.limit)) for t in config.tasks]
    res_path = out / "results.parquet"
    existing = read_results([res_path]) if res_path.exists() else None
    done = done_keys(existing, HELDOUT)
    cks = checkpoint_list(out / "runs", rungs)
    with Progress(*cols, **bar) as prog:
        tid = prog.add_task("evaluating checkpoints", total=len(cks))
        for ck, rows in evaluate_checkpoints(cks, tasks, trainer.heldout, done=done, heldout_name=HELDOUT,
                                             overlong="truncate"):
            if rows:
                new = pd.DataFrame(rows)
                existing = new if existing is None else pd.concat([existing, new], ignore_index=True)
                io.write_table(res_path, existing)
            prog.advance(tid)
    timings["evaluate_s"] = time.perf_counter() - t0

    # 4-5. fit on every run but the target rung, predict it, compare
    t0 = time.perf_counter()
    results = existing
    ladder_res = results[results["run"] != target_rung.name]
    tres = results[results["run"] == target_rung.name]
    target = Target(target_rung.name, target_rung.n, target_rung.tokens, tres)
    lad = Ladder(ladder_res)
    preds, _ = predict_targets(lad, [target], list(config.tasks), PAPER)
    # held-out text loss: step 1 alone (a power law in N and D on the final checkpoints)
    lm_pred = _lm_prediction(ladder_res, target_rung, tres)
    timings["fit_s"] = time.perf_counter() - t0

    # 6. report
    t0 = time.perf_counter()
    from . import report as rpt

    html = rpt.build(lad, [target], list(config.tasks), list(config.tasks),
                     title=f"taskladder run --preset {config.preset}: micro ladder on {Path(config.corpus).name}")
    rpt.write(out / "report.html", html)
    timings["report_s"] = time.perf_counter() - t0

    chance = {t: float(pd.Series([1 / len(it.choices) for it in task.items]).mean()) for t, task in
              zip(config.tasks, tasks)}
    preds["chance"] = preds["task"].map(chance)
    summary = {
        "preset": config.preset, "target": target_rung.name, "target_n": target_rung.n,
        "target_tokens": target_rung.tokens, "runs": summaries, "timings": timings,
        "predictions": io.records(preds[["task", "predicted_feature", "actual_feature", "feature_rel_error",
                                         "predicted", "actual", "chance", "abs_error", "flags"]]),
        "heldout_loss": lm_pred,
        "caveat": ("micro models answer these questions at chance: the accuracy predictions test only that the "
                   "pipeline runs; task loss (bits per byte) and held-out loss do scale with N and D and are the "
                   "numbers to judge"),
    }
    io.write_bytes_atomic(out / "summary.json", io.dumps(summary).encode())
    return summary


def _lm_prediction(ladder_res: pd.DataFrame, rung: Rung, tres: pd.DataFrame) -> dict:
    """Step 1 alone on the held-out text loss: L(N, D) fitted on final checkpoints, predicted for the target."""
    from .laws import PowerLaw

    lm = ladder_res[(ladder_res["task"] == HELDOUT) & (ladder_res["metric"] == "lm_loss")]
    final = lm.sort_values("step").groupby("run").tail(1)
    law = PowerLaw().fit(final["n"].to_numpy(float), final["d"].to_numpy(float), final["value"].to_numpy(float))
    pred = float(law.predict(float(rung.n), float(rung.tokens)))
    t = tres[(tres["task"] == HELDOUT) & (tres["metric"] == "lm_loss")].sort_values("step")
    actual = float(t["value"].iloc[-1]) if len(t) else None
    return {"predicted": pred, "actual": actual,
            "rel_error": None if actual is None else abs(pred - actual) / actual}
