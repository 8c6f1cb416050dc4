"""Flat files for dashboards: predictions and ladder tables W&B, MLflow or a spreadsheet import.

Every file is one flat table (no nested objects): a column per field, dict-valued
fields spread over ``<field>.<key>`` columns (an automatic prediction's per-pipeline
``weights.task_bpb``, ...).  Formats by extension: ``.csv``, ``.parquet``, ``.json``
(an array of records) and ``.jsonl`` (a record per line: ``wandb.Table`` and
``mlflow.log_table`` read both).  A ladder can be written tidy (one row per run,
step, task and metric) or wide (one row per checkpoint, a ``<task>/<metric>``
column each, the shape of ``run.log`` / ``mlflow.log_metrics`` calls keyed by step).
Nothing here talks to a server: teams upload the files with their own clients.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import io
from .errors import TaskladderError

FORMATS = (".csv", ".parquet", ".json", ".jsonl")
#: ``--out -``: the table as CSV on standard output.
STDOUT = "-"


def flatten(df: pd.DataFrame) -> pd.DataFrame:
    """Spread dict-valued columns into ``<column>.<key>`` columns; other objects become JSON text."""
    out = df.copy()
    for c in list(out.columns):
        col = out[c]
        if col.dtype != object:
            continue
        if col.map(lambda v: isinstance(v, dict)).any():
            spread = pd.DataFrame([v if isinstance(v, dict) else {} for v in col], index=out.index)
            spread.columns = [f"{c}.{k}" for k in spread.columns]
            at = out.columns.get_loc(c)
            out = pd.concat([out.iloc[:, :at], spread, out.iloc[:, at + 1:]], axis=1)
        elif col.map(lambda v: isinstance(v, (list, tuple))).any():
            out[c] = col.map(lambda v: json.dumps(list(v)) if isinstance(v, (list, tuple)) else v)
    return out


def wide(results: pd.DataFrame) -> pd.DataFrame:
    """One row per checkpoint (run, size, n, d, step), one ``<task>/<metric>`` column each."""
    from .results import to_wide

    return to_wide(results)


def check_format(path: Path) -> str:
    """The export format ``path``'s extension names (before any work: nothing is read or created
    for a file that cannot be written)."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise TaskladderError(f"{path}: unknown export format {ext or '(none)'!r}; use {', '.join(FORMATS)}")
    return ext


def write(df: pd.DataFrame, path: Path, provenance: dict | None = None) -> Path:
    """Write a flat copy of ``df`` in the format its extension names, atomically (Parquet with
    ``provenance`` in its metadata: :func:`io.write_table`)."""
    path = Path(path)
    ext = check_format(path)
    flat = flatten(df)
    if ext in (".csv", ".parquet"):
        return io.write_table(path, flat, provenance)
    text = io.dumps(io.records(flat)) if ext == ".json" else "".join(
        json.dumps(r) + "\n" for r in json.loads(io.dumps(io.records(flat))))
    return io.write_bytes_atomic(path, text.encode())


def export_ladder(read, out: Path, shape: str = "tidy", provenance=None) -> pd.DataFrame:
    """Write the ladder table ``read()`` returns (``shape`` tidy or wide) to ``out``; returns what
    was written.  ``out`` and ``shape`` are checked first: a file that cannot be written is
    refused before the ladder is read or its folder created.  ``provenance()``: what a Parquet
    file records of the files it came from (:mod:`taskladder.provenance`)."""
    out = Path(out)
    to_stdout = str(out) == STDOUT
    if not to_stdout:
        io.check_output_file(out)
        check_format(out)
    if shape not in ("tidy", "wide"):
        raise TaskladderError(f"--shape: choose tidy or wide, got {shape!r}")
    results = read()
    if shape == "tidy":  # each series in step order, as a tool's files need not come
        from .results import in_step_order

        results = in_step_order(results)
    # the convention travels as a column in either shape: `--ladder` reads both back
    df = (wide(results) if shape == "wide" else results).assign(convention=results.attrs.get("convention"))
    if to_stdout:  # CSV down a pipe (`taskladder export --out - | ...`)
        import sys

        flatten(df).to_csv(sys.stdout, index=False)
        return df
    io.ensure_writable_dir(out.parent)
    write(df, out, provenance() if provenance is not None and out.suffix == ".parquet" else None)
    return df
