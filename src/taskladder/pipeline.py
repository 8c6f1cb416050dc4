"""From nothing to a checked prediction: plan -> train -> evaluate -> fit -> predict -> report.

``taskladder run --preset micro`` runs the whole method on one CPU: a micro ladder of
byte-level OLMo 2 models trained on a small corpus (the bundled Tiny Shakespeare),
scored on cloze tasks built from the corpus's held-out tail (:mod:`taskladder.cloze`),
fitted, and used to predict a larger target that is trained too but held out of
every fit, so the prediction can be checked against what the target actually scores.

Micro models answer OLMES science and common-sense questions at chance; the cloze
tasks are what they do learn, in graded steps, so both steps of the chain are tested.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import io
from .errors import TaskladderError
from .ladder import PRESETS, Rung, plan, target_rung

#: Tasks a micro ladder is scored on: cloze questions from the held-out text, easy to hard.
MICRO_TASKS = ("cloze_spelling", "cloze_swap", "cloze_vowel", "cloze_neighbor")
HELDOUT = "heldout_text"
#: Level of the chained prediction's interval.
LEVEL = 0.9


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
    """Cloze tasks (:data:`taskladder.cloze.KINDS`, built from the held-out text) or bundled
    OLMES tasks (scored zero-shot: a 5-shot prefix does not fit a 256-byte window)."""
    limit: int = 1000
    """Questions per task (a 1000-question accuracy has a standard error of ~1.5 points)."""
    seed: int = 0
    """Seed of weights, data order and the cloze questions."""
    workers: int | None = None
    """Processes that train rungs and score checkpoints side by side, one thread each
    (default: one per core).  The numbers depend on it: one thread sums in another order."""

    def __post_init__(self):
        from .cloze import KINDS
        from .evaluation import bundled_tasks

        if self.preset not in PRESETS:
            raise TaskladderError(f"unknown preset {self.preset!r}; choose from {', '.join(PRESETS)}")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            raise TaskladderError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.limit <= 0:
            raise TaskladderError(f"limit must be positive, got {self.limit}")
        if self.workers is not None and self.workers <= 0:
            raise TaskladderError(f"workers must be positive, got {self.workers}")
        known = [*KINDS, *bundled_tasks()]
        for t in self.tasks:
            if t not in known:
                raise TaskladderError(f"unknown task {t!r} for a micro ladder; choose from {', '.join(known)}")


def bundled_corpus() -> Path:
    """Path of the bundled Tiny Shakespeare text (Karpathy's char-rnn data, see data/corpus/NOTICE.md)."""
    from importlib import resources

    return Path(str(resources.files("taskladder") / "data" / "corpus" / "tinyshakespeare.txt"))


def checkpoint_list(out_dir: Path, rungs: list[Rung]) -> list[dict]:
    """Every finished checkpoint of the plan's runs, as ``evaluate_checkpoints`` wants them."""
    from .training import RunCheckpoints

    cks = []
    for r in rungs:
        for step, path in RunCheckpoints.finished(Path(out_dir) / r.name):
            cks.append({"path": path, "run": r.name, "size": r.size, "n": r.n, "step": step,
                        "d": step * r.batch_tokens})
    return cks


def build_tasks(config: RunConfig, heldout: str, vocabulary: str | None = None) -> list:
    """The run's tasks: cloze tasks built from the held-out text, or bundled OLMES tasks, zero-shot."""
    from . import cloze
    from .evaluation import bundled_task, zero_shot

    return [cloze.build(heldout, name, config.limit, seed=config.seed, vocabulary=vocabulary) if name in cloze.KINDS
            else zero_shot(bundled_task(name, config.limit)) for name in config.tasks]


def write_tasks(tasks, folder: Path) -> list:
    """Write the cloze tasks to ``folder/<task>.json.gz`` in the task-file format and read
    them back, so what is scored is what the file says."""
    import gzip

    from . import cloze
    from .evaluation import load_task

    out = []
    for task in tasks:
        if task.name in cloze.KINDS:
            path = folder / f"{task.name}.json.gz"
            io.write_bytes_atomic(path, gzip.compress(io.dumps(cloze.to_json(task)).encode(), mtime=0))
            task = load_task(path)
        out.append(task)
    return out


def run(config: RunConfig, console=None) -> dict:
    """The whole pipeline; every stage resumes from what is already on disk."""
    from .training import TrainConfig, Trainer

    out = io.ensure_writable_dir(config.out_dir)
    pcfg = PRESETS[config.preset]
    rungs = plan(pcfg)
    target_rung_ = target_rung(pcfg)
    runs = rungs + [target_rung_] * (target_rung_.name not in {r.name for r in rungs})
    ladder_rungs = [r for r in rungs if r.name != target_rung_.name]  # what the fits see
    timings = {}
    bar = _Bars(console)

    # 1-2. plan and train the ladder and the target
    t0 = time.perf_counter()
    tcfg = TrainConfig(out_dir=out / "runs", corpus=config.corpus, seed=config.seed)
    trainer = Trainer(tcfg, pcfg.vocab_size)
    trainer.check_plan(runs)
    io.write_bytes_atomic(out / "heldout.txt", trainer.heldout.encode("utf-8"))
    io.write_bytes_atomic(out / "plan.json", io.dumps({"rungs": [r.as_dict() for r in rungs],
                                                       "target": target_rung_.as_dict()}).encode())
    summaries = _train_all(trainer, runs, config.workers, bar)
    timings["train_s"] = time.perf_counter() - t0

    # 3. evaluate every checkpoint (the tasks + held-out text loss)
    t0 = time.perf_counter()
    results, tasks = _evaluate_all(config, trainer, out, runs, bar)
    timings["evaluate_s"] = time.perf_counter() - t0

    # 4-5. fit on the ladder alone, predict the target, compare
    t0 = time.perf_counter()
    ladder_res = results[results["run"] != target_rung_.name]
    tres = results[results["run"] == target_rung_.name]
    preds, lad, target = chained_predictions(ladder_res, tres, target_rung_, tasks)
    lm_pred = _lm_prediction(ladder_res, target_rung_, tres)
    timings["fit_s"] = time.perf_counter() - t0

    # 6. report
    t0 = time.perf_counter()
    from . import report as rpt

    from .provenance import source, stamp

    names = [t.name for t in tasks]
    # the ladder and the target are the rows of one results file; the corpus made them
    made_from = stamp(ladder=source(out / "results.parquet"), corpus=source(config.corpus))
    html = rpt.build(lad, [target], names, names, intervals=preds,
                     title=f"taskladder run --preset {config.preset}: micro ladder on {Path(config.corpus).name}",
                     provenance=made_from)
    rpt.write(out / "report.html", html)
    timings["report_s"] = time.perf_counter() - t0

    at_chance = preds.loc[(preds["actual"] - preds["chance"]).abs() < 0.05, "task"].tolist()
    summary = {
        "preset": config.preset, "target": target_rung_.name, "target_n": target_rung_.n,
        "target_tokens": target_rung_.tokens,
        "target_compute_ratio": target_rung_.flops / max(r.flops for r in ladder_rungs),
        "ladder_runs": [r.name for r in ladder_rungs], "runs": summaries, "timings": timings, "level": LEVEL,
        "interval_method": INTERVAL_METHOD,
        "predictions": io.records(preds),
        "heldout_loss": lm_pred,
        "caveat": (f"{', '.join(at_chance)}: the target scores within 5 points of chance, so its accuracy "
                   "prediction tests only that the pipeline runs; its task loss (bits per byte) is the number "
                   "to judge") if at_chance else None,
        "provenance": made_from,
    }
    io.write_bytes_atomic(out / "summary.json", io.dumps(summary).encode())
    return summary


class _Bars:
    """The progress bars of the stages (rich), shown only on a terminal."""

    def __init__(self, console):
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.options = dict(console=console, disable=console is None or not console.is_terminal)
        self.columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), TimeRemainingColumn())

    def __call__(self):
        from .progress import Progress

        return Progress(*self.columns, **self.options)


def _train_all(trainer, runs: list[Rung], workers: int | None, bar: _Bars) -> list[dict]:
    """Every run trained (or, already trained, summarised from its checkpoints) over the workers,
    each of which builds a trainer of ``trainer``'s settings: each run's summary, in ``runs``' order."""
    from . import parallel

    # rungs already trained are summarised from their checkpoints, not handed to a worker
    by_name = {r.name: s_ for r in runs if (s_ := trainer.store.done_summary(r, r.steps)) is not None}
    with bar() as prog:
        tid = prog.add_task("training", total=sum(r.steps for r in runs))
        done_steps = {r.name: r.steps if r.name in by_name else 0 for r in runs}
        prog.update(tid, completed=sum(done_steps.values()))

        def advance(msg):
            name, step, loss = msg
            done_steps[name] = step
            prog.update(tid, completed=sum(done_steps.values()), description=f"training {name} loss {loss:.3f}")

        # largest first: the target alone takes about as long as the whole ladder
        order = sorted((r for r in runs if r.name not in by_name), key=lambda r: -r.flops)
        if order:
            for r, s_ in parallel.run_jobs(_train_rung, order, _trainer, (trainer.cfg, trainer.vocab_size),
                                           parallel.workers(workers), on_message=advance):
                by_name[r.name] = s_
    return [by_name[r.name] for r in runs]


def _evaluate_all(config: RunConfig, trainer, out: Path, runs: list[Rung], bar: _Bars) -> tuple[pd.DataFrame, list]:
    """Every checkpoint of ``runs`` scored on the tasks and the held-out text, those already in
    ``out/results.parquet`` kept (the table is rewritten after each checkpoint, so a killed run
    resumes there): the whole table, and the tasks."""
    from . import parallel
    from .evaluation import check_questions, done_keys, needs_scoring, questions_record
    from .results import read_results
    from .training import read_documents, split_heldout

    train_text = "\n".join(split_heldout(read_documents(config.corpus), trainer.cfg.heldout_fraction)[0])
    tasks = build_tasks(config, trainer.heldout, vocabulary=train_text)
    res_path = out / "results.parquet"
    existing = read_results([res_path]) if res_path.exists() else None
    if existing is not None:  # read_results keeps the convention in attrs; the rows written back carry it
        if existing.attrs.get("convention") not in (None, "olmo"):
            raise TaskladderError(f"{res_path}: scored under the {existing.attrs['convention']!r} metric convention, "
                                  "not olmo; run into a new folder")
        existing = existing.assign(convention="olmo")
    # before any task file is rewritten; the record beside the table, as evaluate keeps it
    record = questions_record(res_path)
    prints = check_questions(record, tasks, {HELDOUT: trainer.heldout}, res_path, existing is not None)
    io.write_bytes_atomic(record, io.dumps(prints).encode())
    tasks = write_tasks(tasks, io.ensure_writable_dir(out / "tasks"))
    done = done_keys(existing, HELDOUT)
    cks = checkpoint_list(out / "runs", runs)
    todo = [ck for ck in cks if needs_scoring(ck, tasks, trainer.heldout, done)]
    with bar() as prog:
        tid = prog.add_task("evaluating checkpoints", total=len(cks), completed=len(cks) - len(todo))
        for _, rows in parallel.run_jobs(_score_checkpoint, todo, None, (tasks, trainer.heldout, done),
                                         parallel.workers(config.workers)):
            if rows:
                new = pd.DataFrame(rows)
                existing = new if existing is None else pd.concat([existing, new], ignore_index=True)
                io.write_table(res_path, existing)
            prog.advance(tid)
    if existing is not None:  # finished in any order; stored by run and step
        existing = existing.sort_values(["run", "step", "task", "metric"], kind="stable").reset_index(drop=True)
        io.write_table(res_path, existing)
    return existing, tasks


def _trainer(cfg, vocab_size: int):
    from . import parallel
    from .training import Trainer

    tr = Trainer(cfg, vocab_size)
    tr.progress = lambda rung, step, last, loss: parallel.report((rung.name, step, loss))
    return tr


def _train_rung(trainer, rung: Rung) -> dict:
    return {k: v for k, v in trainer.train(rung).items() if k != "losses"}


def _score_checkpoint(state, ck: dict) -> list[dict]:
    from .evaluation import evaluate_checkpoints

    tasks, text, done = state
    return next(evaluate_checkpoints([ck], tasks, text, done=done, heldout_name=HELDOUT, overlong="truncate"))[1]


#: How the interval of :func:`chained_predictions` is made, as the outputs state it.
INTERVAL_METHOD = ("paper's chain (task bpb -> sigmoid): prediction +- Student t x SD on the logit scale, the SD "
                   "(in probability) from a residual "
                   "bootstrap of step 1 carried through step 2, a bootstrap of step 2 over whole runs, and the "
                   "checkpoint noise of the target's actual (taskladder.trust.DesignModel)")


def chained_predictions(ladder_res: pd.DataFrame, tres: pd.DataFrame, rung: Rung, tasks) -> tuple:
    """The paper's two-step chain fitted on the ladder alone, per task: the target's predicted
    task loss and accuracy, a :data:`LEVEL` interval, the target's actual values and chance,
    the step-1 error on the target and the step-2 fit."""
    import numpy as np

    from .chain import PAPER, Ladder, predict_targets
    from .datasets import Target
    from .parallel import fits_over_cores

    lad = Ladder(ladder_res)
    target = Target(rung.name, rung.n, rung.tokens, tres)
    names = [t.name for t in tasks]
    preds, fits = predict_targets(lad, [target], names, PAPER)
    # the intervals' bootstrap refits (~1 s a task) over the cores, and cached: a resumed run has them
    jobs = [(lad, name, rung.n, rung.tokens) for name in names]
    bounds = fits_over_cores(_interval, jobs, keys=[_interval_key(*job) for job in jobs])
    rows = []
    for task, p, (lo, hi) in zip(tasks, preds.itertuples(index=False), bounds):
        f = fits[task.name]
        actual = p.actual
        rows.append({
            "task": task.name, "chance": float(np.mean([1 / len(it.choices) for it in task.items])),
            "predicted": p.predicted, "lower": lo, "upper": hi, "actual": actual,
            "abs_error": p.abs_error,
            "covered": None if actual is None else bool(lo <= actual <= hi),
            "predicted_feature": p.predicted_feature, "actual_feature": p.actual_feature,
            "step1_error": p.feature_rel_error, "step1_fit_error": f.step1_.fit_error_,
            "step2_fit_error": f.step2_.fit_error_, "step1": f.step1_.formula(), "step2": f.step2_.formula(),
            "flags": p.flags,
        })
    return pd.DataFrame(rows), lad, target


def _interval(lad, task: str, n: int, d: float) -> tuple[float, float]:
    """The :data:`LEVEL` interval of the paper's chain at (n, d) (:class:`trust.DesignModel`, its
    bootstrap), kept in the cache of fits."""
    from . import cache
    from .trust import DesignModel

    return cache.cached(_interval_key(lad, task, n, d),
                        lambda: DesignModel("task_bpb", task).fit(lad).bounded_interval(n, d, LEVEL))


def _interval_key(lad, task: str, n: int, d: float) -> str:
    """The cache key of :func:`_interval`'s bounds."""
    from . import cache

    return cache.key("run-interval", lad.content_hash, task, n, d, LEVEL)


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
