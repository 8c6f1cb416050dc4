"""What produced a result: the versions its numbers depend on and the data they came from.

Every command's JSON (``--json``, ``<command>.json``) carries a ``provenance`` object, and its
Parquet files the same under the schema metadata key ``taskladder``, so a prediction stored in a
dashboard months later can be traced to the ladder's exact files and the release that fitted it
(lm-evaluation-harness keeps its versions and config in its results files for the same reason).
No timestamp: the same ladder and options give byte-identical outputs, cache on or off; a
file's own time says when it was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: The libraries whose versions can move a fitted number (optimisers, BLAS, parsers).
LIBRARIES = ("numpy", "scipy", "pandas")
#: How the bundled ladder is named where files would be.
BUNDLED = "bundled: the OLMo 2 ladder of Bhagia et al. (2024), allenai/OLMo-ladder (Apache-2.0)"
#: The Parquet schema metadata key that holds the provenance, as JSON.
PARQUET_KEY = b"taskladder"


def versions() -> dict:
    """taskladder's version and its numerical libraries', read from their metadata (nothing is
    imported: a warm prediction imports neither scipy nor pandas)."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    def of(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {"taskladder": __version__, **{name: of(name) for name in LIBRARIES}}


def source(paths: str | Path | Sequence[str | Path] | None = None, sizes: str | Path | None = None,
           mixed_conventions: bool = False) -> dict:
    """A ladder (or a target's log) as it was read: its file, files or folders as given (or
    :data:`BUNDLED`; a DataFrame: :func:`frame_source`), the size table, and ``digest``: one
    SHA-256 over every file the readers open (in a folder, :func:`discover.files_read`), each by
    its path and bytes or, over 8 MB, its path, size and time (:func:`discover.fingerprint`; a wide
    log's run is its file's name), and the size table and reading option: the key of the cache of
    fits, so two results with the same digest were computed from the same data.  None where a
    file cannot be read."""
    from .serve import _is_frame, _source_hash

    if _is_frame(paths):
        return frame_source(paths)
    got = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths] if paths else None
    return {"files": [str(p) for p in got] if got else BUNDLED, "sizes": str(sizes) if sizes is not None else None,
            "digest": _source_hash(got, Path(sizes) if sizes is not None else None, mixed_conventions)}


def frame_source(frame) -> dict:
    """A table passed in memory (the Python API): a SHA-256 of its column names and of pandas'
    hash of its rows (``pandas.util.hash_pandas_object``), None where a column cannot be hashed."""
    import hashlib

    import pandas as pd

    h = hashlib.sha256(repr([str(c) for c in frame.columns]).encode())
    try:
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        digest = h.hexdigest()
    except TypeError:  # a cell holding a list or a dict
        digest = None
    return {"files": "a DataFrame in memory", "sizes": None, "digest": digest}


def stamp(**sources: dict) -> dict:
    """The ``provenance`` object: :func:`versions` and each named source (``ladder=source(...)``)."""
    return {"versions": versions(), **sources}
