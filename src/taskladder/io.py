"""Writing results: JSON and Parquet for programs, atomically so nothing is half-written."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import TaskladderError

# pandas is imported where a table is written: `taskladder --help` and other light
# commands do not pay its ~0.4 s import


def _clean(v):
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if v is None or type(v).__name__ == "NAType":  # pandas.NA, without importing pandas
        return None
    return v


def records(df) -> list[dict]:
    """DataFrame rows (or a list of row dicts) as JSON-safe dicts (NaN becomes null)."""
    return [_clean(r) for r in (df.to_dict(orient="records") if hasattr(df, "to_dict") else df)]


def dumps(obj) -> str:
    return json.dumps(_clean(obj), indent=2)


#: Output folders this process created, so a failed command can remove them again (when empty).
_CREATED: list[Path] = []


def ensure_writable_dir(path: Path) -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise TaskladderError(f"{path}: is a file; give a folder for the outputs")
    missing = []
    p = path.absolute()
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TaskladderError(f"{path}: cannot create output folder ({e.strerror})") from None
    _CREATED.extend(missing)
    if not os.access(path, os.W_OK):
        raise TaskladderError(f"{path}: output folder is not writable")
    return path


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """Write a set of outputs into a hidden folder inside ``out``; move them in only when all are done.

    An error or Ctrl-C on the way leaves ``out`` as it was (the hidden folder is
    removed), never a partial set of files.
    """
    out = ensure_writable_dir(out)
    tmp = Path(tempfile.mkdtemp(prefix=".taskladder-", dir=out))
    try:
        yield tmp
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_created_dirs() -> None:
    """Remove the output folders this process created that are still empty (deepest first)."""
    for p in sorted(set(_CREATED), key=lambda x: len(x.parts), reverse=True):
        try:
            p.rmdir()
        except OSError:  # not empty, or already gone
            pass
    _CREATED.clear()


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def publish(tmp: str, path: Path) -> None:
    """Give a finished temp file normal permissions (mkstemp makes it 0600) and move it into place."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def check_output_file(path: Path) -> None:
    if path.is_dir():
        raise TaskladderError(f"{path}: is a folder; give a file name")


def _atomic(path: Path, write) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it over ``path``.

    A folder in the way, a full disk (ENOSPC) or any other OS error becomes one
    TaskladderError naming the file, and the temp file is removed.
    """
    path = Path(path)
    check_output_file(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        write(tmp)
        publish(tmp, path)
    except OSError as e:
        raise TaskladderError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write to a temporary file in the same folder, then rename over ``path``."""
    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
    return _atomic(path, write)


def write_json(path: Path, obj) -> Path:
    return write_bytes_atomic(path, (dumps(obj) + "\n").encode())


def write_table(path: Path, df, provenance: dict | None = None) -> Path:
    """Write a DataFrame as Parquet or CSV (by extension), atomically; a Parquet file keeps
    ``provenance`` (:mod:`taskladder.provenance`) as JSON under its schema metadata key
    ``taskladder``, beside pandas' own."""
    path = Path(path)
    if path.suffix != ".parquet":
        return _atomic(path, lambda tmp: df.to_csv(tmp, index=False))
    if provenance is None:
        return _atomic(path, lambda tmp: df.to_parquet(tmp, index=False))
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .provenance import PARQUET_KEY

    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), PARQUET_KEY: dumps(provenance).encode()})
    return _atomic(path, lambda tmp: pq.write_table(table, tmp))
