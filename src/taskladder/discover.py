"""Which files a ``--ladder`` path stands for, found by their names alone.

Both the readers (:func:`taskladder.results.read_results`) and the prediction cache's key
(:mod:`taskladder.serve`, which must not import pandas) walk a ladder folder the same way
through :func:`expand`, so the key covers exactly the files that are read:

* a file is itself;
* a folder gives its tables (``.csv``, ``.parquet``), in the folder itself only, so a
  ``predictions.csv`` written somewhere below it is not read as a ladder, and the
  evaluation tools' outputs found at any depth below it: ``lm_eval --output_path
  OUT/<run>/<step>`` puts each model's folder two levels down;
* a folder holding a tool's files (:func:`is_tool_output`) is read whole by that tool's
  reader (:mod:`taskladder.ingest`) and not searched further;
* hidden folders (``.git``, ``.cache``) are not searched, and a folder reached twice
  through a link (a checkpoint folder's ``latest -> step1000``) is read once;
* taskladder's own outputs are not ladder tables: a ``predictions.csv`` beside the
  ``predict.json`` that ``predict --out`` wrote with it (:data:`OWN_OUTPUTS`), so a ladder
  folder given as its own ``--out`` still reads as the ladder next time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from .errors import TaskladderError

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
#: Text tables compressed (``ladder.csv.gz``): read as pandas reads them.
_COMPRESSED = (".csv.gz", ".tsv.gz")
#: The files each tool writes per checkpoint (lm-eval 0.4, OLMES, OLMo-core's MetricSaverCallback).
#: lm-eval names a results file ``results_<date id>.json``, or ``<stem>_<date id>.json`` when
#: ``--output_path`` is ``<stem>.json`` (its samples files then go beside it, in the same folder).
LM_EVAL_RESULTS = re.compile(r"^(?!samples_)(?:results_.+|.+_(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(?:\.\d+)?))\.json$")
OLMES_METRICS = re.compile(r"^task-(\d+)-(.+)-metrics\.json$")
OLMO_CORE_STEP = re.compile(r"^metrics_step(\d+)\.json$")
_TOOL_FILES = (LM_EVAL_RESULTS, OLMES_METRICS, OLMO_CORE_STEP)
#: The tables each command's ``--out`` writes (as .csv and .parquet), by the JSON file it
#: writes beside them (cli._emit, reproduction.write): never read as a ladder.
OWN_OUTPUTS = {"predict.json": ("predictions",), "compare.json": ("comparison",), "forecast.json": ("forecast",),
               "backtest.json": ("backtest",), "calibration.json": ("calibration", "calibration_runs"),
               "reproduce.json": ("predictions", "design_choices", "variance"), "data.json": ("runs", "tasks"),
               "plan.json": ("plan",)}
#: What a tool-output folder's readers open (results, samples, predictions, requests, metrics).
_READ_SUFFIXES = (".json", ".jsonl")
#: Files up to this size are known by their bytes; larger ones (lm-eval's per-sample logs of a
#: 5-shot task run to 100-150 MB a checkpoint) by size and modification time, as make and DVC know them.
HASH_LIMIT = 8 << 20


def matching(folder: Path, pattern: re.Pattern) -> list[Path]:
    """The files directly in ``folder`` whose name matches ``pattern``, sorted."""
    return sorted(p for p in folder.iterdir() if pattern.match(p.name) and p.is_file())


def is_tool_output(folder: Path) -> bool:
    """Whether a folder directly holds an evaluation tool's files (rather than tables)."""
    return any(any(p.match(q.name) for p in _TOOL_FILES) for q in folder.iterdir())


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files and folders as the readers take them: tables and tool-output folders."""
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():  # before a folder-like name is taken for a file of an unknown format
            raise TaskladderError(f"{p}: no such file or folder")
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if is_table(q) and q.is_file() and not _own_output(q))
            sub = [p] if is_tool_output(p) else _tool_outputs(p, {p.resolve()})
            if not found and not sub:
                raise TaskladderError(f"{p}: folder holds no .csv, .tsv or .parquet files and no evaluation tool's "
                                      "output")
            files += found + sub
        else:
            files.append(p)
    if not files:
        raise TaskladderError("no ladder files given")
    # a file named twice ('--ladder runs/ --ladder runs/190M-1xC.csv') is read once, where first named
    seen: set[Path] = set()
    return [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]


def is_table(path: Path) -> bool:
    """Whether a file in a ladder folder is a table by its name (.csv, .tsv, .parquet, .csv.gz)."""
    return path.suffix.lower() in TABLE_SUFFIXES or path.name.lower().endswith(_COMPRESSED)


def _own_output(table: Path) -> bool:
    """Whether ``table`` is one taskladder's ``--out`` wrote: its name, and the JSON beside it."""
    return any(table.stem in stems and (table.parent / js).is_file() for js, stems in OWN_OUTPUTS.items())


def _tool_outputs(folder: Path, seen: set) -> list[Path]:
    out = []
    for q in sorted(folder.iterdir()):
        if not q.is_dir() or q.name.startswith(".") or q.resolve() in seen:
            continue
        seen.add(q.resolve())
        out += [q] if is_tool_output(q) else _tool_outputs(q, seen)
    return out


def files_read(paths: Iterable[str | Path]) -> list[Path]:
    """Every file that reading ``paths`` opens: the tables, and the JSON and JSON-lines files of
    each tool-output folder (what keys a ladder's cached fits)."""
    out: list[Path] = []
    for p in expand(paths):
        if not p.is_dir() and any(t.match(p.name) for t in _TOOL_FILES):
            p = p.parent  # a tool's file given alone is read with its samples or predictions beside it
        out += sorted(q for q in p.iterdir() if q.suffix.lower() in _READ_SUFFIXES and q.is_file()) \
            if p.is_dir() else [p]
        out += lighteval_details(p if p.is_dir() else p.parent)
    return list(dict.fromkeys(out))


def lighteval_details(folder: Path) -> list[Path]:
    """The per-question files lighteval wrote for the results in ``folder``: it puts results in
    ``OUT/results/<model>/`` and their details in ``OUT/details/<model>/<date id>/`` (every
    folder above named ``results`` is tried: the model's own path may hold one); details moved
    beside their results (in a ``<date id>/`` folder or not) are found too."""
    out: list[Path] = []
    for up in folder.parents:
        details = up.parent / "details" / folder.relative_to(up)
        if up.name == "results" and details.is_dir():
            out += sorted(details.glob("*/details_*.parquet"))
    return out + sorted(folder.glob("*/details_*.parquet")) + sorted(folder.glob("details_*.parquet"))


def fingerprint(path: Path) -> str:
    """What a cache key needs to know of a file: the SHA-256 of its bytes, or for a file over
    :data:`HASH_LIMIT` its size and modification time (hashing a ladder's per-sample logs, tens
    of GB, would take longer than the prediction they key).  Raises OSError for a file that
    cannot be read."""
    st = path.stat()
    if st.st_size > HASH_LIMIT:
        return f"{path}|{st.st_size}|{st.st_mtime_ns}"
    return f"{path}|" + hashlib.sha256(path.read_bytes()).hexdigest()
