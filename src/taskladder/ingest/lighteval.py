"""lighteval (0.13) output: ``results_<date id>.json`` and the ``--save-details`` parquet files.

Produced by ``lighteval accelerate "model_name=PATH" "TASKS" --output-dir OUT --save-details``:
the results go to ``OUT/results/<model name>/results_<date id>.json`` (the model's path or
hub name, its leading ``/`` stripped) and one parquet file per task to
``OUT/details/<model name>/<date id>/details_<task>|<shots>_<date id>.parquet``.  The results
file names the model (``config_general.model_config.model_name``, its ``revision``) and each
task's config (``config_tasks``: its metrics' ``category``); each details row holds one
question (``doc``: ``choices``, each with its leading space as lighteval scores it, and
``gold_index``) and the model's answer (``model_response``: the summed log-likelihood of
every choice, nats; its tokens are not needed: no primary read here is per token).

From these, under lighteval's convention (lengths of the whole choice, as its
``LogProbCharNorm`` counts them): task loss = bits per byte of the gold choice, the task's
primary RC accuracy and TaskCE.  Only log-likelihood (``LOGPROBS``) tasks are read; MMLU's
subjects (``mmlu:anatomy``) pool into ``mmlu``.  A results file without its details is an
error (run lighteval with ``--save-details``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .. import discover
from ..errors import TaskladderError, cause
from .checkpoint import identify
from .tidy import frame, load_json, pooled, primary, task_name, warn_rescored

CONVENTION = "lighteval"


def is_results(obj) -> bool:
    return (isinstance(obj, dict) and "results" in obj and "config_tasks" in obj
            and isinstance(obj.get("config_general"), dict))


def _results_files(folder: Path) -> list[Path]:
    return discover.matching(folder, discover.LM_EVAL_RESULTS)  # lm-eval's names too: told apart by content


def is_output(folder: Path) -> bool:
    """Whether a folder holds lighteval's results (one tool's per folder: its first file tells)."""
    files = _results_files(folder)
    try:
        return bool(files) and is_results(load_json(files[0]))
    except TaskladderError:
        return False


def read(path: Path, *, sizes: Mapping[str, int] | None = None, n: int | None = None) -> pd.DataFrame:
    """A results file, or every results file of a model's results folder.  A task scored again
    on the same checkpoint (a later run's file) is taken from the newest file, as lm-eval's."""
    path = Path(path)
    files = [path] if path.is_file() else _results_files(path)
    checkpoints: dict[tuple, tuple] = {}  # (run, step) -> (checkpoint, questions per task, primaries, names taken)
    older = [f for f in sorted(files, key=lambda p: p.stem, reverse=True)  # results_<date id>: newest first
             if _read_one(f, sizes, n, checkpoints)]
    warn_rescored(older, "lighteval")
    out = pd.concat([frame(ck, pooled(per_q, prim), CONVENTION) for ck, per_q, prim, _ in checkpoints.values()],
                    ignore_index=True)
    out.attrs["convention"] = CONVENTION
    return out


def _read_one(path: Path, sizes, n, checkpoints: dict) -> bool:
    """Add one results file's questions to its checkpoint's in ``checkpoints``; whether a newer
    file of that checkpoint had given some of its tasks (skipped here)."""
    obj = load_json(path)
    if not is_results(obj):
        raise TaskladderError(f"{path}: not a lighteval results file (no 'config_general' and 'config_tasks')")
    model = obj["config_general"].get("model_config") or {}
    locator = str(model.get("model_name") or obj["config_general"].get("model_name") or "")
    ck = identify(locator, path, "config_general.model_config.model_name", sizes=sizes, n=n,
                  revision=model.get("revision"))  # lighteval's default "main" names no step
    ck, per_q, prim, taken = checkpoints.setdefault((ck["run"], ck["step"]), (ck, {}, {}, set()))
    date_id = path.stem.removeprefix("results_")
    found, skipped = [], False
    for key, cfg in obj["config_tasks"].items():
        if not isinstance(cfg, dict) or not _loglikelihood(cfg):
            continue
        found.append(key)
        if key in taken:  # a newer file of this checkpoint gave it
            skipped = True
            continue
        task = task_name(str(cfg.get("name") or key.split("|")[0]))  # key: "<name>|<shots>"
        prim[task] = primary(task)
        per_q.setdefault(task, []).extend(_questions(_details(path, key, date_id), prim[task]))
    if not found:
        raise TaskladderError(f"{path}: field 'config_tasks' holds no log-likelihood (multiple-choice) task")
    taken.update(found)
    return skipped


def _loglikelihood(cfg: dict) -> bool:
    metrics = cfg.get("metrics") or []
    return bool(metrics) and all(isinstance(m, dict) and m.get("category") == "LOGPROBS" for m in metrics)


def _details(results: Path, key: str, date_id: str) -> Path:
    """A task's details file, where lighteval wrote it (:func:`discover.lighteval_details`, which
    also keys the cache of tool outputs by them)."""
    name = f"details_{key}_{date_id}.parquet"
    hit = next((p for p in discover.lighteval_details(results.parent) if p.name == name), None)
    if hit is None:
        raise TaskladderError(f"{results}: task {key!r} has no details file {name} (lighteval writes it to "
                              f"OUT/details/<model>/{date_id}/); run lighteval with --save-details")
    return hit


def _questions(path: Path, prim: str) -> list[dict]:
    from .. import conventions

    import pyarrow.parquet as pq

    conv = conventions.get(CONVENTION)
    try:
        names = pq.read_schema(path).names
        if not {"doc", "model_response"} <= set(names):  # lighteval 0.10 and before: flat columns
            raise TaskladderError(f"{path}: no 'doc' and 'model_response' columns (columns: "
                                  f"{', '.join(names[:8])}{', ...' if len(names) > 8 else ''}); lighteval writes "
                                  "them since 0.11, and earlier versions' details are not read")
        rows = pd.read_parquet(path, columns=["doc", "model_response"])
    except TaskladderError:
        raise
    except Exception as e:  # pyarrow's errors are many; the file is named either way
        raise TaskladderError(f"{path}: not a lighteval details file ({cause(e)})") from None
    out = []
    for i, (doc, resp) in enumerate(zip(rows["doc"], rows["model_response"])):
        try:
            conts = [str(c) for c in doc["choices"]]
            gold = np.atleast_1d(doc["gold_index"]).astype(int)
            ll = np.asarray(resp["logprobs"], float)[:len(conts)]  # then the unconditioned ones, for PMI
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise TaskladderError(f"{path}: row {i}: not a lighteval log-likelihood sample ({cause(e)}); "
                                  "fields 'doc.choices', 'doc.gold_index' and 'model_response.logprobs' needed") from None
        if len(ll) != len(conts) or not len(ll):
            raise TaskladderError(f"{path}: row {i}: {len(ll)} log-likelihoods for {len(conts)} choices")
        if len(gold) != 1 or not 0 <= gold[0] < len(conts):
            raise TaskladderError(f"{path}: row {i}: field 'doc.gold_index' {gold.tolist()} is not one of the "
                                  f"{len(conts)} choices")
        # token counts only matter to a per-token primary, which no task read here has (tidy.primary)
        out.append(conventions.question_metrics(ll, np.ones(len(ll)), conts, int(gold[0]), prim, conv))
    if not out:
        raise TaskladderError(f"{path}: no samples")
    return out
