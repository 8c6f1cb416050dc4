"""OLMES (oe-eval) output folders, read from the documented output format.

``olmes --model M --task arc_challenge:rc::olmes --output-dir OUT`` writes, per task
``i``: ``task-<iii>-<task>-metrics.json`` (``task_config`` with ``task_name``,
``primary_metric`` and ``metric_kwargs.uncond_docid_offset``; ``model_config`` with
``model`` and ``revision``), ``task-<iii>-<task>-predictions.jsonl`` (per question:
``doc_id``, ``model_output``, one entry per choice with ``sum_logits`` and
``num_tokens``; the gold as ``metrics.correct_choice`` or ``label``) and
``task-<iii>-<task>-requests.jsonl`` (per choice: ``doc_id``, ``idx``,
``request.continuation``).  OLMES is not on PyPI, so this reader follows its
documentation (OUTPUT_FORMATS.md) and is tested on example folders, not on output
the package wrote here (docs/ingest.md).

Metrics under OLMES's convention (whole continuation, leading space included):
``bits_per_byte`` of the gold continuation as the task loss, the task config's
``primary_metric`` as ``acc`` and TaskCE; MC-format tasks (``:mc`` in the name)
give ``mc_acc``.  Unconditional requests (``doc_id`` >= the offset) are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .. import discover
from ..errors import TaskladderError
from .checkpoint import identify
from .tidy import frame, json_lines, load_json, pooled, task_name

CONVENTION = "olmes"
_PRIMARY = ("acc_per_char", "acc_raw", "acc_per_token", "acc_uncond")


def is_metrics(obj: dict) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("task_config"), dict)


def _metrics_files(folder: Path) -> list[Path]:
    return discover.matching(folder, discover.OLMES_METRICS)


def is_output(folder: Path) -> bool:
    return bool(_metrics_files(folder))


def _metrics(path: Path) -> dict:
    obj = load_json(path)
    if not is_metrics(obj):
        raise TaskladderError(f"{path}: not an OLMES task metrics file (no 'task_config' object)")
    return obj


def read(folder: Path, *, sizes: Mapping[str, int] | None = None, n: int | None = None,
         only: Path | None = None) -> pd.DataFrame:
    """All tasks of one OLMES output folder (one checkpoint), or the task of ``only``."""
    files = [only] if only is not None else _metrics_files(folder)
    ck, per_q, prim, mc, seen = None, {}, {}, set(), {}
    for mf in files:
        meta = _metrics(mf)
        cfg, model = meta["task_config"], meta.get("model_config") or {}
        if not isinstance(model, dict):
            raise TaskladderError(f"{mf}: field 'model_config' is not an object")
        here = identify(str(model.get("model") or ""), mf, "model_config.model", sizes=sizes, n=n,
                        revision=model.get("revision"))
        if ck is not None and (here["run"], here["step"]) != (ck["run"], ck["step"]):
            raise TaskladderError(f"{mf}: field 'model_config.model' names {here['run']} step {here['step']}, "
                                  f"but the folder's other tasks {ck['run']} step {ck['step']}: one checkpoint "
                                  "per OLMES folder")
        ck = here
        raw = str(cfg.get("task_name") or meta.get("task_name") or "")
        alias = str((cfg.get("metadata") or {}).get("alias", raw))
        if not raw:
            raise TaskladderError(f"{mf}: field 'task_config.task_name' is missing")
        # MMLU's subjects pool into one task, but the same task twice (olmes run again into the
        # same --output-dir with another task list numbers it anew) would count its questions twice
        if (raw, alias) in seen:
            raise TaskladderError(f"{mf}: task {alias!r} is also in {seen[raw, alias].name}; one checkpoint's "
                                  "task once (two OLMES runs into one --output-dir?)")
        seen[raw, alias] = mf
        task = task_name(raw.split(":")[0])
        p = str(cfg.get("primary_metric", "acc_per_char"))
        if p not in _PRIMARY:
            raise TaskladderError(f"{mf}: field 'task_config.primary_metric' is {p!r}; a ranked-classification "
                                  f"task needs one of {', '.join(_PRIMARY)}")
        is_mc = ":mc" in raw or ":mc" in alias
        if is_mc:
            mc.add(task)
        prim[task] = p
        offset = (cfg.get("metric_kwargs") or {}).get("uncond_docid_offset") or float("inf")
        stem = mf.name.removesuffix("-metrics.json")
        per_q.setdefault(task, []).extend(_questions(mf.with_name(stem + "-predictions.jsonl"),
                                                     mf.with_name(stem + "-requests.jsonl"), p, offset))
    if ck is None:
        raise TaskladderError(f"{folder}: no task-*-metrics.json files")
    return frame(ck, pooled(per_q, prim, mc), CONVENTION)


def _questions(pred_path: Path, req_path: Path, prim: str, offset: float) -> list[dict]:
    from .. import conventions

    conv = conventions.get(CONVENTION)
    conts: dict[int, dict[int, str]] = {}
    for i, r in json_lines(req_path):
        try:
            doc, idx, cont = int(r["doc_id"]), int(r["idx"]), str(r["request"]["continuation"])
        except (KeyError, TypeError, ValueError) as e:
            raise TaskladderError(f"{req_path}: line {i}: field {e} missing (needs doc_id, idx, "
                                  "request.continuation)") from None
        if doc < offset:
            conts.setdefault(doc, {})[idx] = cont
    out = []
    for i, p in json_lines(pred_path):
        try:
            doc = int(p["doc_id"])
            outs = p["model_output"]
            ll = np.array([float(o["sum_logits"]) for o in outs])
            ntok = np.array([float(o.get("num_tokens", 1)) for o in outs])
            gold = (p.get("metrics") or {}).get("correct_choice", p.get("label"))
            gold = int(gold)
            llu = np.array([float(o["sum_logits_uncond"]) for o in outs]) if all(
                "sum_logits_uncond" in o for o in outs) else None
        except (KeyError, TypeError, ValueError) as e:
            raise TaskladderError(f"{pred_path}: line {i}: field {e} missing or not a number (needs doc_id, "
                                  "model_output[].sum_logits, metrics.correct_choice)") from None
        c = conts.get(doc)
        if c is None or sorted(c) != list(range(len(ll))):
            raise TaskladderError(f"{pred_path}: line {i}: doc_id {doc} has {len(ll)} choices in model_output but "
                                  f"{0 if c is None else len(c)} requests in {req_path.name}")
        if not 0 <= gold < len(ll):
            raise TaskladderError(f"{pred_path}: line {i}: field 'metrics.correct_choice' {gold} is not one of "
                                  f"the {len(ll)} choices")
        texts = [c[k] for k in range(len(ll))]
        out.append(conventions.question_metrics(ll, ntok, texts, gold, prim, conv, ll_uncond=llu))
    if not out:
        raise TaskladderError(f"{pred_path}: no predictions")
    return out
