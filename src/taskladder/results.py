"""The tidy results table every fitter reads, and readers that build it.

One row per (run, checkpoint, task, metric)::

    run    size  n          d            step  task  metric  value
    str    str   int64      int64        int64 str   str     float64

``n`` is the non-embedding parameter count (OLMo's count: input embedding excluded,
LM head included), ``d`` the training tokens seen at the checkpoint, ``step`` the
optimizer step.  Metric names are in :mod:`taskladder.tasks` (``bpb``, ``acc``,
``taskce``, ``mc_acc``, ``lm_loss``).

Two on-disk formats are read:

* **wide**: OLMo / W&B exports, one row per checkpoint and one column per metric
  (``_step``, ``batch_size_in_tokens``, ``eval/downstream_bpb/...``), the format of
  the bundled ladder. ``d = _step * batch_size_in_tokens`` (or
  ``throughput/total_tokens`` where logged).
* **long**: CSV, Parquet, JSON or JSONL records with the columns above, so any trainer's logs can be
  brought in. ``n`` may come from a size table instead of a column, and ``d`` from
  ``batch_tokens`` (``d = step * batch_tokens``) or a ``tokens`` column.  An optional
  ``convention`` column names the metric convention (:mod:`taskladder.conventions`).

Other tools' outputs (lm-evaluation-harness, OLMES, OLMo-core) are read by
:mod:`taskladder.ingest`, detected by content.  Every reader records the metric
convention of what it read in ``DataFrame.attrs["convention"]`` (wide OLMo exports:
``olmo``; long files without the column: unknown), and :func:`read_results` refuses a
ladder whose files were measured under different conventions unless told to mix them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import TaskladderError, cause, listed
from .tasks import ACC, BPB, LM_LOSS, MC_ACC, METRICS, OLMO_COLUMNS, REGISTRY, TASKCE, registry_name, wide_columns

COLUMNS = ["run", "size", "n", "d", "step", "task", "metric", "value"]
#: The "file" name of a results table given in memory (``taskladder.predict(ladder=df)``): its
#: bad cells are named by index label, as the notebook shows them, not by a file's line number.
FRAME = Path("DataFrame")

#: Non-embedding parameter counts of the paper's ladder sizes (paper Table 1).
PAPER_SIZES: dict[str, int] = {
    "190M": 190_354_176,
    "370M": 371_262_464,
    "760M": 758_220_288,
    "1B": 1_279_395_840,
}

# "190M-5xC", also with a suffix such as "190M-5xC-rerun" or "190M-5xC_seed2", an underscore
# before the multiple ("1B_10xC") or in lower case ("370m-2xc")
_RUN_RE = re.compile(r"^(?P<size>.+?)[-_](?P<mult>\d+(?:\.\d+)?)[xX][cC](?:[-_.].*)?$")
_LM_RE = re.compile(r"^eval/(?P<set>.+)-validation/CrossEntropyLoss$")


def parse_run_name(run: str) -> tuple[str, float | None]:
    """Split ``"190M-5xC"`` into size ``"190M"`` and Chinchilla multiple ``5.0``."""
    m = _RUN_RE.match(run)
    if not m:
        return run, None
    return m["size"], float(m["mult"])


def empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _DTYPES.items()})


_DTYPES = {
    "run": "object", "size": "object", "n": "int64", "d": "int64", "step": "int64",
    "task": "object", "metric": "object", "value": "float64",
}


class SizeTable(dict):
    """Size (or run) name -> N, with each row's optional tokens per optimizer step.

    ``batch_tokens`` turns a step into tokens (D = step x batch tokens) for readers of
    files that log steps only (lm-evaluation-harness and OLMES outputs name the checkpoint,
    not the tokens it saw)."""

    def __init__(self, n: Mapping[str, int], batch_tokens: Mapping[str, int] | None = None):
        super().__init__(n)
        self.batch_tokens = dict(batch_tokens or {})


def load_sizes(path: str | Path) -> SizeTable:
    """Read a size table: a CSV with columns ``size`` (or ``run``) and ``n``, optionally ``batch_tokens``."""
    path = Path(path)
    df = _read_table(path)
    # a table typed by hand: "Size, N" is size and n, and a count may be written as on the command line
    df = df.rename(columns={c: str(c).strip().lower() for c in df.columns})
    key = "size" if "size" in df.columns else "run" if "run" in df.columns else None
    if key is None or "n" not in df.columns:
        raise TaskladderError(f"{path}: a size table needs columns 'size' (or 'run') and 'n'; found "
                              f"{listed(df.columns, 6, quote=True)}")
    cols = {"n": _positive(df, "n", path)}
    if "batch_tokens" in df.columns:
        cols["batch_tokens"] = _positive(df, "batch_tokens", path)
    names = df[key].astype(str).str.strip()
    for col, values in cols.items():  # one name, two values: which one a run gets would be arbitrary
        seen: dict[str, tuple[int, int]] = {}
        for i, (name, v) in enumerate(zip(names, values)):
            if name in seen and seen[name][1] != v:
                raise TaskladderError(f"{path}: {key} {name!r} has two values of {col!r}: {seen[name][1]} (row "
                                      f"{seen[name][0] + 2}) and {v} (row {i + 2})")
            seen.setdefault(name, (i, v))
    return SizeTable(dict(zip(names, cols["n"])), dict(zip(names, cols["batch_tokens"])) if "batch_tokens" in cols
                     else None)


def _positive(df: pd.DataFrame, col: str, path: Path) -> list[int]:
    """A size table's counts: numbers, or counts as the command line takes them (190.35M, 4M)."""
    from .units import parse_count

    v = pd.to_numeric(df[col], errors="coerce").to_numpy(float, copy=True)
    for i in np.flatnonzero(np.isnan(v)):
        try:
            v[i] = parse_count(str(df[col].iloc[i]), "")
        except TaskladderError:
            pass
    bad = ~np.isfinite(v) | (v <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise TaskladderError(f"{path}: column {col!r} row {i + 2}: {str(df[col].iloc[i])!r} is not a positive number "
                              "(e.g. 190354176, 1.9e8 or 190.35M)")
    return [int(x) for x in v]


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise TaskladderError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return _read_records(path, suffix)
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=_separator(path))
    except TaskladderError:
        raise
    except Exception as e:  # pandas/pyarrow raise many types for unreadable files
        raise TaskladderError(f"{path}: cannot be read as a table ({cause(e)})") from None


def _separator(path: Path) -> str:
    """A text table's column separator: a tab for .tsv; else a comma, unless the header line has
    none but a semicolon or a tab (a spreadsheet saved under a European locale, or a TSV named
    .csv), which read as one column would look like a wide log of a run named after the file."""
    name = path.name.lower()
    if name.endswith((".tsv", ".tsv.gz")):
        return "\t"
    import gzip

    try:
        with (gzip.open if name.endswith(".gz") else open)(path, "rt", encoding="utf-8-sig", errors="replace") as f:
            head = f.readline()
    except OSError:  # pandas says what is wrong with the file
        return ","
    if "," not in head:
        for sep in ("\t", ";"):
            if sep in head:
                return sep
    return ","


def _read_records(path: Path, suffix: str) -> pd.DataFrame:
    """A table written as JSON records (``export --out x.json`` / ``.jsonl``: an array of
    objects, or one object per line; what wandb.Table and MLflow's tables export too)."""
    from .ingest.tidy import json_lines, load_json

    if suffix == ".json":
        rows = load_json(path)
        if not isinstance(rows, list):
            raise TaskladderError(f"{path}: expected an array of records, found a JSON {type(rows).__name__}")
        numbered = list(enumerate(rows, 1))
        where = "record"
    else:
        numbered, where = list(json_lines(path)), "line"
    for i, r in numbered:
        if not isinstance(r, dict):
            raise TaskladderError(f"{path}: {where} {i}: expected an object (a record), found {type(r).__name__}")
    if not numbered:
        raise TaskladderError(f"{path}: holds no records")
    return pd.DataFrame.from_records([r for _, r in numbered])


def resolve_n(path: Path, run: str, size: str, n: int | None, sizes: Mapping[str, int] | None) -> int:
    """N of a run: the explicit ``n``, else the size table's row for the run or its size, else the paper's."""
    if n is not None:
        return int(n)
    for table in (sizes or {}, PAPER_SIZES):
        for key in (run, size):
            if key in table:
                return int(table[key])
    raise TaskladderError(
        f"{path}: no parameter count N for run {run!r}; give --sizes FILE (a CSV with columns size,n) with a row "
        f"for {size!r} (for a target's own log, --n)"
    )


def _run_n(path: Path, run: str, size: str, n, sizes, named: bool) -> int:
    """:func:`resolve_n` for a wide log, whose run is its file's name unless ``named``: a file
    W&B named (wandb_export_2026-...csv) says so."""
    try:
        return resolve_n(path, run, size, n, sizes)
    except TaskladderError as e:
        if named:
            raise
        raise TaskladderError(f"{e} (a wide log's run is its file name: name the file after the run, e.g. "
                              "190M-1xC.csv, or add a 'run' column)") from None


def read_wide(path: str | Path, *, run: str | None = None, n: int | None = None,
              sizes: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Read one OLMo / W&B wide export (one run) into the tidy table.

    ``run`` defaults to the file name without extension; ``n`` to the size table
    entry for the run (or its size prefix, ``"190M"`` of ``"190M-5xC"``).
    """
    path = Path(path)
    df = _read_table(path)
    return wide_frame_to_tidy(df, path, run=run, n=n, sizes=sizes)


def wide_frame_to_tidy(df: pd.DataFrame, path: Path, *, run: str | None = None, n: int | None = None,
                       sizes: Mapping[str, int] | None = None) -> pd.DataFrame:
    named, run = run is not None, run or path.stem
    size, _ = parse_run_name(run)
    if len(df) == 0:
        raise TaskladderError(f"{path}: no rows")

    cols = set(df.columns)
    if {"_step", "batch_size_in_tokens"} <= cols:
        d = _numeric_column(df, "_step", path) * _numeric_column(df, "batch_size_in_tokens", path)
    elif "throughput/total_tokens" in cols:  # e.g. a final-checkpoint export without _step
        d = _numeric_column(df, "throughput/total_tokens", path)
    else:
        raise TaskladderError(
            f"{path}: missing column '_step' or 'batch_size_in_tokens' (needed for tokens D)")
    if "_step" in cols:
        step = _numeric_column(df, "_step", path)
    else:  # a single final-checkpoint export: recover the step from the batch size
        step = d / _numeric_column(df, "batch_size_in_tokens", path) if "batch_size_in_tokens" in cols \
            else np.arange(len(df), dtype=float)
    _check_increasing(step, path, "_step")

    parts = registry_metrics(df, path, lambda c: _numeric_column(df, c, path))
    for c in df.columns:
        m = _LM_RE.match(str(c))
        if m:
            v = _numeric_column(df, c, path)
            check_range(LM_LOSS, v, path, str(c))
            parts.append((m["set"], LM_LOSS, v))
    if not parts:
        raise TaskladderError(f"{path}: no metric columns found (expected eval/downstream_bpb/... columns)")
    # N last: a file that is no OLMo log at all is told so, not asked for its run's size
    n_ = _run_n(path, run, size, n, sizes, named)

    k = len(df)
    out = pd.DataFrame({
        "run": run, "size": size, "n": int(n_),
        "d": np.tile(np.rint(d).astype("int64"), len(parts)),
        "step": np.tile(np.rint(step).astype("int64"), len(parts)),
        "task": np.repeat([p[0] for p in parts], k),
        "metric": np.repeat([p[1] for p in parts], k),
        "value": np.concatenate([p[2] for p in parts]),
    })
    return out


def registry_metrics(df: pd.DataFrame, path: Path, numeric, names: Mapping[str, str] = OLMO_COLUMNS,
                     norms: Mapping[str, str] | None = None) -> list[tuple[str, str, np.ndarray]]:
    """(task, metric, values) of every registry task whose columns a wide export has.

    ``names``/``norms`` are the export's column names (:func:`taskladder.tasks.wide_columns`;
    OLMo's by default), ``numeric(col)`` reads a column as floats (NaN where a W&B row
    has no eval).  Components are weighted (MMLU's categories), TaskCE is negated (logged
    as log p(gold), eq. 7), and every column's finite values are range-checked.
    """
    parts = []
    for task in REGISTRY.values():
        for metric in names:
            spec = wide_columns(task, metric, names, norms)
            if not spec or not all(c in df.columns for c, _ in spec):
                continue
            w = np.array([w for _, w in spec])
            sign = -1.0 if metric == TASKCE else 1.0
            cols_ = [sign * numeric(c) for c, _ in spec]
            for (c, _), v in zip(spec, cols_):
                ok = np.isfinite(v)
                check_range(metric, v[ok], path, c, np.flatnonzero(ok))
            parts.append((task.name, metric, np.column_stack(cols_) @ (w / w.sum())))
    return parts


def out_of_range(metric: str, values: np.ndarray) -> tuple[np.ndarray, str]:
    """Mask of values outside a metric's range, and the range in words.

    Accuracies are fractions in [0, 1]; task and LM losses (bits or nats) are > 0;
    TaskCE = -log p(gold) is >= 0.  Other metrics are not checked.
    """
    v = np.asarray(values, float)
    if metric in (ACC, MC_ACC):
        return (v < 0) | (v > 1), "an accuracy must lie in [0, 1]"
    if metric in (BPB, LM_LOSS):
        return v <= 0, "a loss must be positive"
    if metric == TASKCE:
        return v < 0, "TaskCE (-log p of the gold answer) must be >= 0"
    return np.zeros(len(v), bool), ""


def _range_message(metric: str, v: float, rule: str) -> str:
    percent = metric in (ACC, MC_ACC) and 1 < v <= 100
    return f"{v:g} is out of range: {rule}" + (" (a percentage? give fractions)" if percent else "")


def _row(path: Path, i: int, index: pd.Index | None = None) -> str:
    """Where the i-th row (0-based) is: a file's line (1-based, header = 1), a frame's index label."""
    if path != FRAME or index is None:
        return f"row {i + 2}"
    label = index[i]
    return f"index {getattr(label, 'item', lambda: label)()!r}"  # 952, not np.int64(952)


def check_range(metric: str, values: np.ndarray, path: Path, col: str, rows: np.ndarray | None = None,
                index: pd.Index | None = None) -> None:
    """Refuse values outside the metric's range, naming the file, column and row (:func:`_row`)."""
    bad, rule = out_of_range(metric, values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = _row(path, int(rows[i]) if rows is not None else i, index)
        raise TaskladderError(f"{path}: column {col!r} {where}: {_range_message(metric, float(values[i]), rule)}")


def _numeric_column(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        cell = str(df[col].iloc[i])
        comma = pd.notna(pd.to_numeric(cell.replace(",", "."), errors="coerce")) and "," in cell
        raise TaskladderError(f"{path}: column {col!r} {_row(path, i, df.index)}: {cell!r} is not a finite number"
                              + (" (a decimal comma? save the table with decimal points)" if comma else ""))
    return v


def _check_increasing(step: np.ndarray, path: Path, col: str, where: str = "") -> None:
    if len(step) > 1:
        dif = np.diff(step)
        if (dif <= 0).any():
            i = int(np.flatnonzero(dif <= 0)[0])
            raise TaskladderError(
                f"{path}: column {col!r}{where}: steps must increase, but {step[i + 1]:g} follows {step[i]:g}")


def read_long(path: str | Path, *, sizes: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Read the documented long format (CSV or Parquet) into the tidy table."""
    path = Path(path)
    df = _read_table(path)
    return long_frame_to_tidy(df, path, sizes=sizes)


def long_frame_to_tidy(df: pd.DataFrame, path: Path, *, sizes: Mapping[str, int] | None = None,
                       n: int | None = None) -> pd.DataFrame:
    df = _canonical_columns(df)
    missing = [c for c in ("run", "step", "task", "metric", "value") if c not in df.columns]
    if missing:
        raise TaskladderError(f"{path}: missing column {missing[0]!r} (long format needs run, step, task, metric, value)")
    for col in ("run", "task", "metric"):  # str() would make an empty cell a run called 'nan'
        if (blank := _blank(df[col])).any():
            where = _row(path, int(np.flatnonzero(blank.to_numpy())[0]), df.index)
            raise TaskladderError(f"{path}: column {col!r} {where}: empty")
    out = pd.DataFrame({"run": df["run"].astype(str)})
    # a size where given, else the run name's (190M-1xC -> 190M)
    blank = _blank(df["size"]).to_numpy() if "size" in df.columns else np.ones(len(df), bool)
    out["size"] = df["size"].astype(str) if "size" in df.columns else ""
    if blank.any():
        from_name = {r: parse_run_name(r)[0] for r in out["run"][blank].unique()}
        out.loc[blank, "size"] = out["run"][blank].map(from_name)
    out["step"] = _numeric_column(df, "step", path)
    if "n" in df.columns:
        out["n"] = _numeric_column(df, "n", path)
    else:
        ns = {}
        for run, size in out[["run", "size"]].drop_duplicates().itertuples(index=False):
            ns[run] = resolve_n(path, run, size, n, sizes)
        out["n"] = out["run"].map(ns)
    if "d" in df.columns:
        out["d"] = _numeric_column(df, "d", path)
    elif "tokens" in df.columns:
        out["d"] = _numeric_column(df, "tokens", path)
    elif "batch_tokens" in df.columns:
        out["d"] = out["step"] * _numeric_column(df, "batch_tokens", path)
    else:
        raise TaskladderError(f"{path}: missing column 'd' (or 'tokens', or 'batch_tokens' to compute d = step x batch_tokens)")
    # a registry task written as the tables print it ('ARC-Challenge') or as another tool names it
    # ('commonsense_qa') is that task: its chance level, and among the paper's tasks by default
    task = df["task"].astype(str)
    names = {t: registry_name(t) or t for t in task.unique()}
    out["task"] = task.map(names) if any(k != v for k, v in names.items()) else task
    out["metric"] = df["metric"].astype(str)
    out["value"] = _numeric_column(df, "value", path)
    # N must be positive; D may be 0 at the initial checkpoint (step 0), as wide logs have it
    for col, bad in (("n", out["n"] <= 0), ("d", out["d"] < 0)):
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise TaskladderError(f"{path}: column {col!r} {_row(path, i, df.index)}: must be "
                                  f"{'positive' if col == 'n' else '>= 0'}")
    unknown = sorted(set(out["metric"]) - set(METRICS))
    if unknown:
        raise TaskladderError(f"{path}: unknown metric {unknown[0]!r} in column 'metric'; known: {', '.join(METRICS)}")
    for metric, idx in out.groupby("metric", sort=False).indices.items():
        check_range(metric, out["value"].to_numpy()[idx], path, "value", idx, df.index)
    out["n"] = np.rint(out["n"]).astype("int64")
    out["d"] = np.rint(out["d"]).astype("int64")
    out["step"] = np.rint(out["step"]).astype("int64")
    # a long table is a set of records, in any row order (`evaluate` scoring an earlier checkpoint
    # after a later one appends it); a step twice, or tokens going down as steps go up, is an error
    out = in_step_order(out[COLUMNS].reset_index(drop=True))
    _check_series(out, path)
    out.attrs["convention"] = _file_convention(df, path)
    return out


def _series_codes(df: pd.DataFrame) -> np.ndarray:
    return pd.factorize(df["run"].astype(str) + "\0" + df["task"].astype(str) + "\0" + df["metric"].astype(str))[0]


def in_step_order(results: pd.DataFrame) -> pd.DataFrame:
    """The tidy table with each (run, task, metric) series in step order, runs and series in the
    order they first appear; a table already so ordered is returned as it is."""
    series, step = _series_codes(results), results["step"].to_numpy()
    by = np.lexsort((np.arange(len(step)), series))  # each series' rows, in table order
    s, t = series[by], step[by]
    if np.all((s[1:] != s[:-1]) | (t[1:] > t[:-1])):
        return results
    order = np.lexsort((step, series, pd.factorize(results["run"])[0]))
    return results.iloc[order].reset_index(drop=True).__finalize__(results)


def _check_series(out: pd.DataFrame, path: Path) -> None:
    """In a table :func:`in_step_order` ordered: no step twice in a series, and its tokens never
    fewer at a later step (an edited step, or two runs under one name)."""
    s, t, d = _series_codes(out), out["step"].to_numpy(), out["d"].to_numpy()
    same = s[1:] == s[:-1]
    for bad, what in ((same & (t[1:] == t[:-1]), "twice"), (same & (d[1:] < d[:-1]), "tokens")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            r = out.iloc[i + 1]
            where = f"run {r['run']!r}, task {r['task']!r}, metric {r['metric']!r}"
            if what == "twice":
                raise TaskladderError(f"{path}: ({where}) step {t[i]} appears twice")
            raise TaskladderError(f"{path}: column 'd' ({where}): step {t[i + 1]} has d = {d[i + 1]:,}, fewer "
                                  f"tokens than step {t[i]} (d = {d[i]:,})")


def _blank(col: pd.Series) -> pd.Series:
    return col.isna() | (col.astype(str).str.strip() == "")


def _file_convention(df: pd.DataFrame, path: Path) -> str | None:
    if "convention" not in df.columns:
        return None
    from . import conventions

    vals = df["convention"].dropna().astype(str).unique()
    if len(vals) > 1:
        raise TaskladderError(f"{path}: column 'convention' mixes {vals[0]!r} and {vals[1]!r}: one table, one scale")
    if len(vals) and vals[0] not in conventions.CONVENTIONS:
        raise TaskladderError(f"{path}: column 'convention': unknown convention {vals[0]!r}; "
                              f"known: {', '.join(conventions.CONVENTIONS)}")
    return str(vals[0]) if len(vals) else None


def read_results(paths: str | Path | Iterable[str | Path], *, sizes: Mapping[str, int] | None = None,
                 n: int | None = None, mixed_conventions: bool = False) -> pd.DataFrame:
    """Read ladder results from files or folders into one tidy table.

    Each path is a wide or long table (CSV/Parquet; a ``metric`` column means long),
    another tool's output (:mod:`taskladder.ingest`: lm-evaluation-harness results,
    OLMES output folders, OLMo-core metrics files and exports), or a folder of any of
    these.  Files measured under different metric conventions are refused unless
    ``mixed_conventions`` (then a warning says so); the table's
    ``attrs["convention"]`` names the one convention (None when unknown or mixed).
    """
    from . import discover

    paths = [paths] if isinstance(paths, (str, Path)) else paths  # one file, as read_ladder takes it
    frames = _read_paths(discover.expand(paths), sizes, n)
    conv = {}
    for f, src in frames:
        c = f.attrs.get("convention")
        if c is not None:
            conv.setdefault(c, src)
    out = pd.concat([f for f, _ in frames], ignore_index=True)
    if len(conv) > 1:
        (c1, f1), (c2, f2) = list(conv.items())[:2]
        msg = (f"{f1} was scored under the {c1!r} metric convention and {f2} under {c2!r}: task losses and "
               "accuracies are on different scales")
        if not mixed_conventions:
            raise TaskladderError(msg + "; re-score one of them, or fit anyway with --mixed-conventions")
        import warnings

        from .errors import InputWarning

        warnings.warn(msg + " (mixed on request)", InputWarning, stacklevel=2)
    out.attrs["convention"] = next(iter(conv)) if len(conv) == 1 else None
    key = ["run", "step", "task", "metric"]
    dup = out.duplicated(key)
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        r = out.iloc[i]
        first = int(np.flatnonzero((out[key] == r[key]).all(axis=1).to_numpy())[0])
        src = np.repeat(np.arange(len(frames)), [len(f) for f, _ in frames])
        a, b = frames[src[first]][1], frames[src[i]][1]
        where = f"twice in {a}" if a == b else f"in {a} and in {b}"
        raise TaskladderError(f"run {r['run']!r} appears twice at step {r['step']} ({r['task']}/{r['metric']}), "
                              f"{where}: give each run once")
    return out


#: Tool outputs not yet cached are parsed over the cores when there is at least this much of them.
PARALLEL_READ_BYTES = 64 << 20


def _read_paths(paths: list[Path], sizes, n) -> list[tuple[pd.DataFrame, Path]]:
    """Each file or tool-output folder as :func:`ingest.read_path` reads it.  A tool's folder is
    cached by its files' fingerprints (:func:`discover.fingerprint`) and the size table, so
    adding a checkpoint to a ladder of lm-eval or OLMES outputs (hundreds of MB of per-sample
    logs each) parses only the new one; those not cached are parsed over the cores when large.
    Their reading warnings are kept and said again."""
    import warnings

    from . import cache, discover, ingest
    from .errors import InputWarning

    tools = [i for i, p in enumerate(paths) if p.is_dir()]
    keys: dict[int, str] = {}
    done: dict[int, tuple] = {}
    size = 0
    sz = None if sizes is None else (sorted(sizes.items()), sorted(getattr(sizes, "batch_tokens", {}).items()))
    for i in tools:
        try:
            files = discover.files_read([paths[i]])
            if cache.enabled():
                prints = [discover.fingerprint(f) for f in files]
                keys[i] = cache.key("tool-output", str(paths[i]), prints, sz, n)
                hit = cache.load(keys[i])
                if isinstance(hit, tuple) and len(hit) == 3:
                    done[i] = hit
                    continue
            size += sum(f.stat().st_size for f in files)
        except OSError:
            continue  # the reader names what cannot be read
    todo = [i for i in tools if i not in done]
    if len(todo) > 1 and size >= PARALLEL_READ_BYTES:
        done.update(zip(todo, _over_cores(_read_tool_output, [(paths[i], sizes, n) for i in todo])))
    out = []
    for i, p in enumerate(paths):
        if i not in tools:
            out.append(ingest.read_path(p, sizes=sizes, n=n))
            continue
        if i not in done:
            done[i] = _read_tool_output(p, sizes, n)
        hit = done[i]
        if i in todo and i in keys:
            cache.store(keys[i], hit)
        frame, convention, said = hit
        for message in said:
            warnings.warn(message, InputWarning, stacklevel=3)
        frame = frame.copy()
        frame.attrs["convention"] = convention
        out.append((frame, p))
    return out


def _read_tool_output(p: Path, sizes, n) -> tuple:
    """(table, convention, reading warnings' messages) of one tool-output folder."""
    from . import ingest
    from .errors import recording_input_warnings

    (frame, _), said = recording_input_warnings(ingest.read_path, p, sizes=sizes, n=n)
    return frame, frame.attrs.get("convention"), list(said)


def _over_cores(fn, jobs: list[tuple]) -> list:
    """``[fn(*job) for job in jobs]`` over forked processes, in order (here where the platform
    cannot fork)."""
    from .parallel import over_cores

    out = dict(over_cores(fn, jobs, portable=True))
    return [out[i] for i in range(len(jobs))]


def read_target_file(path: str | Path, *, sizes: Mapping[str, int] | None = None,
                     n: int | None = None) -> pd.DataFrame:
    """One target's own eval log (``--target-file``), read as :func:`read_results` reads a ladder
    file.  It must hold one run: a target has one N and one set of actuals, which several runs'
    logs would mix."""
    return check_target_log(read_results([Path(path)], sizes=sizes, n=n), path, n)


def check_target_log(log: pd.DataFrame, path, n: int | None = None) -> pd.DataFrame:
    """``log`` (tidy), refused unless it holds one run (a target has one N and one set of
    actuals, which several runs' logs would mix) of the N ``n`` says, where given."""
    runs = log["run"].unique()
    if len(runs) > 1:
        raise TaskladderError(f"{path}: holds {len(runs)} runs ({', '.join(map(str, runs[:4]))}); "
                              "a target file holds one")
    # --n fills in a log without N; a log with its own N keeps it, and a different --n is refused
    # rather than silently ignored (0.5%: "6.9B" for 6,887,575,552 is the same model)
    if n is not None and len(log) and abs(int(log["n"].iloc[0]) - n) > 0.005 * n:
        raise TaskladderError(f"{path}: the log gives n = {int(log['n'].iloc[0]):,} and --n {int(n):,}; "
                              "give --n only for a log without N")
    return log


#: The long format's columns (and taskladder's wide shape's run and step), matched in any case.
_LONG_NAMES = ("run", "size", "n", "d", "step", "task", "metric", "value", "tokens", "batch_tokens", "convention")


def _canonical_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``Run``, `` Step `` ... as the long format names them (a table typed or exported by hand);
    a name already present as written is left alone."""
    ren = {c: str(c).strip().lower() for c in df.columns
           if isinstance(c, str) and c.strip().lower() in _LONG_NAMES and c != c.strip().lower()}
    ren = {c: t for c, t in ren.items() if t not in df.columns and list(ren.values()).count(t) == 1}
    return df.rename(columns=ren) if ren else df


#: Columns of OLMo's wide logs that are not metric names (those hold a '/').
_WIDE_KEYS = {"_step", "batch_size_in_tokens", "run"}


def read_table_file(f: Path, *, sizes: Mapping[str, int] | None = None, n: int | None = None) -> pd.DataFrame:
    """One CSV/Parquet table, long or wide (OLMo's names; OLMo-core's names go to its reader)."""
    df = _canonical_columns(_read_table(f))
    if df.empty:  # a header and nothing else: an export that failed, or a log not yet written
        raise TaskladderError(f"{f}: has no rows (columns: {', '.join(map(str, df.columns[:6]))}"
                              f"{', ...' if len(df.columns) > 6 else ''})")
    if "metric" in df.columns:
        return long_frame_to_tidy(df, f, sizes=sizes, n=n)
    if own_wide_columns(df.columns):
        return long_frame_to_tidy(from_wide(df), f, sizes=sizes, n=n)
    from .ingest import olmo_core

    # a wide log is one run's, named by the file, unless a 'run' column names each row's run
    # (W&B histories of a whole ladder concatenated: run.history().assign(run=run.name))
    if not any("/" in str(c) or c in _WIDE_KEYS for c in df.columns):
        raise TaskladderError(f"{f}: not a table taskladder reads (columns: {listed(df.columns, 6)}): a long table has "
                              "columns run, step, task, metric, value, n, d; a wide log has OLMo's _step, "
                              "batch_size_in_tokens and eval/... columns (docs/ingest.md)")
    if olmo_core.is_wide_export(df.columns):
        out = _per_run(df, f, lambda g, run: olmo_core.wide_frame_to_tidy(g, f, run=run, sizes=sizes, n=n))
        out.attrs["convention"] = olmo_core.CONVENTION
        return out
    out = _per_run(df, f, lambda g, run: wide_frame_to_tidy(g, f, run=run, sizes=sizes, n=n))
    out.attrs["convention"] = "olmo"  # the OLMo repo's in-loop evaluator wrote these columns
    return out


def _per_run(df: pd.DataFrame, f: Path, read) -> pd.DataFrame:
    """``read(rows, run)`` for each run a wide table's ``run`` column names (None without one)."""
    if "run" not in df.columns:
        return read(df, None)
    if (blank := _blank(df["run"])).any():
        raise TaskladderError(f"{f}: column 'run' row {int(np.flatnonzero(blank.to_numpy())[0]) + 2}: empty")
    return pd.concat([read(g.drop(columns="run").reset_index(drop=True), str(run))
                      for run, g in df.groupby(df["run"].astype(str), sort=False)], ignore_index=True)


def own_wide_columns(columns) -> list[str]:
    """The ``<task>/<metric>`` columns of taskladder's own wide shape (:func:`to_wide`, ``export
    --shape wide``), when the table also has its ``run`` and ``step`` columns; else none."""
    if "run" not in columns or "step" not in columns:
        return []
    return [c for c in columns if isinstance(c, str) and c.count("/") == 1 and c.split("/")[1] in METRICS]


def from_wide(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`to_wide`'s table back in the long format (checked by :func:`long_frame_to_tidy`);
    a checkpoint's empty cells (a task not evaluated there) are dropped."""
    cols = own_wide_columns(df.columns)
    keep = [c for c in df.columns if c not in cols]
    out = df.melt(id_vars=keep, value_vars=cols, var_name="_col", value_name="value")
    out = out[out["value"].notna()]
    parts = out["_col"].str.split("/", n=1, expand=True)
    return out.drop(columns="_col").assign(task=parts[0], metric=parts[1])


def to_wide(results: pd.DataFrame) -> pd.DataFrame:
    """Pivot the tidy table to one row per checkpoint and one ``task/metric`` column each."""
    wide = results.pivot_table(index=["run", "size", "n", "d", "step"], columns=["task", "metric"],
                               values="value", aggfunc="first", sort=False)
    wide.columns = [f"{t}/{m}" for t, m in wide.columns]
    # rows in step order within each run: a step only some metrics were logged at would
    # otherwise come after the steps of the first (task, metric) (pivot_table keeps first appearance)
    return wide.reset_index().sort_values(["run", "step"], kind="stable", ignore_index=True)
