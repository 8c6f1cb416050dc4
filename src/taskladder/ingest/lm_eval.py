"""lm-evaluation-harness (0.4) output: ``results_<time>.json`` and ``samples_<task>_<time>.jsonl``.

Produced by ``lm_eval --model hf --model_args pretrained=PATH --tasks ... --output_path OUT
--log_samples``: a folder ``OUT/<model name>/`` per model.  The results file names the
model (``config.model_args.pretrained``, its ``revision``) and each task's config
(``output_type``, ``target_delimiter``); each sample line holds the (context,
continuation) requests of one question (``arguments``), their log-likelihoods
(``filtered_resps``, nats) and the gold (``target``: an index, or the gold choice's text).

From these, under lm-eval's convention (lengths of the choice without the target
delimiter, as its ``acc_norm`` and ``acc_bytes`` count them): task loss = bits per byte
of the gold choice, the task's primary RC accuracy (lm-eval's ``acc_norm`` for
``len_norm`` tasks, ``acc`` otherwise) and TaskCE.  Only ``multiple_choice`` tasks are
read; a results file without its samples file is an error (run with ``--log_samples``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .. import discover
from ..errors import TaskladderError, cause
from .checkpoint import identify
from .tidy import frame, json_lines, load_json, pooled, primary, task_name, warn_rescored

CONVENTION = "lm_eval"


def is_results(obj: dict) -> bool:
    return isinstance(obj, dict) and "results" in obj and "configs" in obj


def _results_files(folder: Path) -> list[Path]:
    # the model's own folder; the folders above it (``--output_path``) are searched by discover.expand
    return discover.matching(folder, discover.LM_EVAL_RESULTS)


def is_output(folder: Path) -> bool:
    return bool(_results_files(folder))


def read(path: Path, *, sizes: Mapping[str, int] | None = None, n: int | None = None) -> pd.DataFrame:
    """A results file, or every results file of a model's folder."""
    path = Path(path)
    files = [path] if path.is_file() else _results_files(path)
    # lm_eval writes a new results_<time>.json into the model's folder every time it runs, so a
    # task scored again on the same checkpoint is there twice: the newest wins (lm-eval's own
    # get_latest_filename picks by that time stamp too), and the older files are named.  Tasks
    # are taken per lm-eval task before pooling, so MMLU's subjects scored in several runs pool.
    checkpoints: dict[tuple, tuple] = {}  # (run, step) -> (checkpoint, questions per task, primaries, tasks)
    order, older = {}, []  # order: each checkpoint's first file in the folder's order
    for i in sorted(range(len(files)), key=lambda i: _stamp(files[i]), reverse=True):
        ck, per_q, prim, skipped = _read_one(files[i], sizes, n, checkpoints)
        order[ck["run"], ck["step"]] = min(order.get((ck["run"], ck["step"]), i), i)
        if skipped:
            older.append(files[i])
    warn_rescored(older, "lm-eval")
    out = pd.concat([frame(ck, pooled(per_q, prim), CONVENTION)
                     for _, (ck, per_q, prim, _) in sorted(checkpoints.items(), key=lambda kv: order[kv[0]])],
                    ignore_index=True)
    out.attrs["convention"] = CONVENTION
    return out


def _stamp(path: Path) -> str:
    """The date id lm-eval gave a results file (and its samples files): ``results_<id>.json``, or
    ``<stem>_<id>.json`` for ``--output_path <stem>.json``."""
    m = discover.LM_EVAL_RESULTS.match(path.name)
    return m[1] if m and m[1] else path.stem.removeprefix("results_")


def _model_args(cfg, path: Path) -> dict:
    args = cfg.get("model_args", {}) if isinstance(cfg, dict) else {}
    if isinstance(args, str):  # older files: "pretrained=...,dtype=..."
        args = dict(kv.split("=", 1) for kv in args.split(",") if "=" in kv)
    if not isinstance(args, dict):
        raise TaskladderError(f"{path}: field 'config.model_args' is neither a mapping nor 'key=value,...'")
    return args


def _read_one(path: Path, sizes, n, checkpoints: dict) -> tuple:
    """Add one results file's questions to its checkpoint's in ``checkpoints``, skipping the lm-eval
    tasks a newer file of that checkpoint already gave; returns (checkpoint, its questions per
    task, primaries, the tasks skipped)."""
    obj = load_json(path)
    if not is_results(obj):
        raise TaskladderError(f"{path}: not an lm-evaluation-harness results file (no 'results' and 'configs')")
    args = _model_args(obj.get("config", {}), path)
    locator = str(args.get("pretrained") or obj.get("model_name") or "")
    ck = identify(locator, path, "config.model_args.pretrained", sizes=sizes, n=n, revision=args.get("revision"))
    ck, per_q, prim, taken = checkpoints.setdefault((ck["run"], ck["step"]), (ck, {}, {}, set()))
    stamp = _stamp(path)
    found, skipped = [], []
    for name, cfg in obj["configs"].items():
        if not isinstance(cfg, dict) or cfg.get("output_type") != "multiple_choice":
            continue
        found.append(name)
        if name in taken:
            skipped.append(name)
            continue
        samples = path.parent / f"samples_{name}_{stamp}.jsonl"
        if not samples.exists():
            raise TaskladderError(f"{path}: task {name!r} has no per-sample file {samples.name} beside it; "
                                  "run lm_eval with --log_samples")
        task = task_name(name)
        prim[task] = primary(task)
        delim = str(cfg.get("target_delimiter", " "))
        per_q.setdefault(task, []).extend(_questions(samples, delim, prim[task]))
    if not found:
        raise TaskladderError(f"{path}: field 'configs' holds no multiple_choice task")
    taken.update(found)
    return ck, per_q, prim, skipped


def _questions(path: Path, delimiter: str, prim: str) -> list[dict]:
    from .. import conventions

    conv = conventions.get(CONVENTION)
    out = []
    for i, s in json_lines(path):
        try:
            args = sorted(s["arguments"].items(), key=lambda kv: int(kv[0].rsplit("_", 1)[-1]))
            conts = [str(a["arg_1"]) for _, a in args]
            ll = np.array([float(r[0]) for r in s["filtered_resps"]])
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise TaskladderError(f"{path}: line {i}: not an lm-eval multiple-choice sample "
                                  f"({cause(e)}); fields 'arguments' and 'filtered_resps' needed") from None
        if len(ll) != len(conts) or not len(ll):
            raise TaskladderError(f"{path}: line {i}: {len(ll)} log-likelihoods for {len(conts)} choices")
        gold = _gold(s.get("target"), conts, delimiter, path, i)
        out.append(conventions.question_metrics(ll, np.ones(len(ll)), conts, gold, prim, conv, delimiter))
    if not out:
        raise TaskladderError(f"{path}: no samples")
    return out


def _gold(target, conts: list[str], delimiter: str, path: Path, line: int) -> int:
    """The gold index: lm-eval writes ``doc_to_target``'s value, an index or the gold choice."""
    if isinstance(target, list) and len(target) == 1:
        target = target[0]
    if isinstance(target, (int, np.integer)) or (isinstance(target, str) and target.strip().lstrip("-").isdigit()):
        g = int(target)
    else:
        choices = [c[len(delimiter):] if c.startswith(delimiter) else c for c in conts]
        g = choices.index(str(target)) if str(target) in choices else -1
    if not 0 <= g < len(conts):
        raise TaskladderError(f"{path}: line {line}: field 'target' {target!r} is not one of the "
                              f"{len(conts)} choices")
    return g
