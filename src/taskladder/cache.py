"""An on-disk cache of fitted state that depends only on the ladder and the configuration.

Backtests, the fits of every pipeline and their bootstrap refits do not depend on the
target, so a second prediction on the same ladder reuses them.  Entries are keyed by a
content hash of the tidy ladder table, of everything else the computation reads, and
of the package version, so a changed ladder file or a new release never reads a stale
entry.  Where:

* ``$TASKLADDER_CACHE`` if set, else the user cache folder of platformdirs (which
  honours ``$XDG_CACHE_HOME`` on Linux: ``~/.cache/taskladder``).

Entries are pickles written to a temp file in the cache folder and renamed into place,
so concurrent processes never see a half-written entry (the last rename wins, and both
wrote the same content).  An entry that cannot be read is ignored with a
:class:`CacheWarning` and recomputed; a cache folder that cannot be written is said once
per command (:func:`writable`) and nothing is written to it.  ``TASKLADDER_NO_CACHE=1`` (the
CLI's ``--no-cache``) turns it off: a process then keeps what it computes in memory only (:func:`kept`).

One process computes an entry at a time (:func:`computing`): a second process that misses the
same entry meanwhile (two dashboard panels, a notebook beside the CLI) waits for the first's
result instead of fitting the same ladder again on the same cores.

The folder is capped (:func:`max_bytes`, 512 MB unless ``$TASKLADDER_CACHE_MAX_MB`` says
otherwise): a ladder that grows by a checkpoint an hour, predicted from a dashboard, keys new
entries each time, and entries of older releases are never read again.  Each read refreshes
an entry's time, and the first write of a process removes the least recently used entries
down to 80% of the cap once the folder is past it (:func:`prune`), as ccache does.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import re
import tempfile
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

try:  # POSIX record locks (computing); none on Windows
    import fcntl
except ImportError:
    fcntl = None

SUFFIX = ".pkl"
#: The names this cache writes (:func:`key`): ``<kind>-<40 hex>.pkl``, its temp files
#: ``.<kind>-<40 hex>.<random>.tmp`` and lock files ``.<kind>-<40 hex>.lock`` (:func:`computing`).
#: ``clear`` and ``info`` touch nothing else: a TASKLADDER_CACHE pointed at a shared folder (/tmp,
#: $HOME) must not lose its other files.
_OURS = re.compile(r"[\w.-]+-[0-9a-f]{40}\.pkl|\.[\w.-]+-[0-9a-f]{40}\.(\w+\.tmp|lock)")
LOCK = ".lock"


class CacheWarning(UserWarning):
    """A cache entry could not be read or written; the result is recomputed."""


#: The cap on the folder's size, in MB, unless $TASKLADDER_CACHE_MAX_MB sets another: the
#: bundled ladder's every cached result takes 15 MB, so this holds a few dozen ladders.
DEFAULT_MAX_MB = 512
#: A temp file this old (seconds) is left by a process that died mid-write: pruned; a lock file
#: this old and not held is left by a finished computation: pruned too.
_STALE_TMP = 3600.0
#: How long (seconds) a process waits for another computing the same entry before computing it
#: itself (with a warning): the other may be stopped (Ctrl-Z) rather than working.
WAIT_S = 900.0
#: Called with the entry's key when a process starts waiting for another's computation of it
#: (:func:`computing`): the CLI says so on a terminal, where the progress bar would stand still.
on_wait: Callable[[str], None] | None = None
_pruned = False  # whether this process has pruned the folder (once, at its first write)


def cache_dir() -> Path:
    """Where entries live: $TASKLADDER_CACHE, else the platform's user cache folder."""
    env = os.environ.get("TASKLADDER_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("taskladder", appauthor=False))


def enabled() -> bool:
    return os.environ.get("TASKLADDER_NO_CACHE", "") in ("", "0")


def table_hash(df) -> str:
    """Content hash of a table: its column names and every value, row order included."""
    import numpy as np
    import pandas as pd

    h = hashlib.sha256()
    h.update(repr(list(df.columns)).encode())
    h.update(np.ascontiguousarray(pd.util.hash_pandas_object(df, index=False).to_numpy()).tobytes())
    return h.hexdigest()


#: Bumped whenever code that computes a cached result changes its numbers between
#: releases (2: bootstrap refits run to convergence; 3: step 2 bootstrapped over runs; 4: the automatic choice
#: keeps its pipelines as predictor.TaskState; 5: TaskState carries the weighted prediction's backtest error;
#: 6: TaskState carries a predictor.ModelError and the interval takes the pipelines' draws jointly; 7: a
#: log-sigmoid straight on its data is flagged; 8: the log-sigmoid fitted in (slope, L0, width), its straight
#: limit reached; 9: the log-sigmoid optimised in (slope at the largest point, L0, width), its exponential
#: limit reached; 10: the accuracy power law polished in its log-limit coordinates; 11: the run bootstrap's
#: refits end at their first negligible step; 12: step 2 of a task outside the registry starts from the
#: ladder's lowest accuracy, not 0; 13: the one-step pipelines' laws residual-bootstrapped;
#: 14: the ladder's span carries its tokens-per-parameter range; 15: and each task's accuracy range;
#: 16: a bent log-sigmoid straight on its data no longer said to take the straight limit; 17: the ladder's
#: span carries its run names; 18: and the tasks not scored on every run, whose backtests hold out the
#: largest runs scored on them; 19: and the runs without C4 loss; 20: and the results ending before a
#: run's last checkpoint; 21: and the runs holding identical results; 22-23: the pipelines left out and why;
#: 24: the log-sigmoid's refusal of a constant accuracy worded by the law; 25: a bundled target's forecast at
#: its final checkpoint past its log checked against that; 26: its replay of the log's end says where the
#: final one is; 27: a task's model error keeps its backtest errors, for the mean over tasks; 28: a
#: forecast's answer holds the mean over tasks; 29: the ladder's span carries its compute range, for
#: taskladder.reach; 30: a backtest's answer names the pipelines it scored), so a developer's cache
#: never serves results of older code under the same package version.
FORMAT = 30


def key(kind: str, *parts) -> str:
    """A key from the kind of entry, the package version, the cache format and the parts'
    reprs (tables by content hash)."""
    import sys

    from . import __version__

    # a DataFrame can only exist once pandas is imported: keys of a light command import none
    pd = sys.modules.get("pandas")
    h = hashlib.sha256(f"{kind}|{__version__}|{FORMAT}".encode())
    for p in parts:
        h.update(b"|")
        h.update((table_hash(p) if pd is not None and isinstance(p, pd.DataFrame) else repr(p)).encode())
    return f"{kind}-{h.hexdigest()[:40]}"


def writable() -> bool:
    """Whether the cache folder can be written: checked once per process and folder, and the first
    time it cannot, said in one :class:`CacheWarning`.  Checked when a computation takes its lock
    (:func:`computing`), which a command does before it forks its workers: they inherit the answer
    instead of each saying it again.  A folder that can only be read still serves its entries."""
    d = cache_dir()
    if str(d) not in _writable:
        try:
            d.mkdir(parents=True, exist_ok=True)
            why = None if os.access(d, os.W_OK | os.X_OK) else "permission denied"
        except OSError as e:
            why = e.strerror or str(e)
        if why:
            _unwritable(d, why)
        else:
            _writable[str(d)] = True
    return _writable[str(d)]


def _unwritable(d: Path, why: str) -> None:
    """Mark folder ``d`` unwritable for this process (and the workers it forks), with one warning."""
    if _writable.get(str(d)) is not False:
        _writable[str(d)] = False
        warnings.warn(f"cannot write the cache in {d} ({why}); what this command computes is not kept",
                      CacheWarning, stacklevel=3)


#: Folder -> whether it could be written (:func:`writable`), per process.
_writable: dict[str, bool] = {}


def load(k: str):
    """The entry stored under ``k``, or None (missing, disabled, or unreadable: then with a warning)."""
    if not enabled():
        return None
    path = cache_dir() / (k + SUFFIX)
    if not path.exists():
        return None
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f)
    except FileNotFoundError:  # removed since (another process's prune or clear): recomputed
        return None
    except Exception as e:  # a truncated, corrupt or foreign file: never trusted, never fatal
        warnings.warn(f"ignoring unreadable cache entry {path} ({type(e).__name__}); recomputing", CacheWarning,
                      stacklevel=2)
        try:
            path.unlink()
        except OSError:
            pass
        return None
    try:
        os.utime(path)  # used now: the last entries a prune removes
    except OSError:
        pass
    return obj


def store(k: str, obj) -> None:
    """Store ``obj`` under ``k`` atomically; a cache that cannot be written is skipped with a warning."""
    if not enabled() or not writable():
        return
    d = cache_dir()
    tmp = None
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{k}.", suffix=".tmp", dir=d)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, d / (k + SUFFIX))
        tmp = None
        global _pruned
        if not _pruned:
            _pruned = True
            prune()
    except OSError as e:  # a full disk, or the folder made read-only since: said once, then skipped
        _unwritable(d, e.strerror or str(e))
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def cached(k: str, compute):
    """``load(k)``, or ``compute()`` stored under ``k`` (one process at a time: :func:`computing`).
    With the disk cache off, the entry is kept in this process's memory instead (:func:`kept`)."""
    if not enabled():
        return _in_memory(k, compute)
    hit = load(k)
    if hit is not None:
        return hit
    with computing(k):
        hit = load(k)  # computed by another process while this one waited
        if hit is not None:
            return hit
        obj = compute()
        store(k, obj)
    return obj


@contextmanager
def computing(k: str, wait: float | None = None):
    """Hold the lock of entry ``k`` while computing it: a process that enters with the same ``k``
    meanwhile waits until the first leaves, then finds the entry stored (callers load again).

    A POSIX record lock (``fcntl.lockf``) on ``.<k>.lock`` in the cache folder, not the BSD
    ``flock`` of the filelock package: the fits run in forked workers, which would inherit a
    ``flock`` and keep it held after their parent was killed, while a record lock belongs to the
    process alone and the kernel releases it when the process dies, however it dies.  It is also
    per process, so it does not order threads of one process.  Without ``fcntl`` (Windows), with
    the cache off or unwritable, nothing is locked; after ``wait`` seconds (:data:`WAIT_S`) the
    process computes anyway, with a :class:`CacheWarning`.  Locks are taken outside in (a command's
    whole state, then a task's fits, then a single law's), so two processes never wait on each other.
    """
    fd = None
    if fcntl is not None and enabled() and writable():
        path = cache_dir() / f".{k}{LOCK}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # an unwritable cache folder: computed without it, as store() skips it
            fd = None
    try:
        if fd is not None:
            _lock(fd, WAIT_S if wait is None else wait, k)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def _lock(fd: int, wait: float, k: str) -> None:
    import time

    deadline = time.monotonic() + wait
    delay, waited = 0.02, False
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):  # no locks here (NFS without them): none taken
                return
            # held by another process
            if not waited and on_wait is not None:
                on_wait(k)
            waited = True
            if time.monotonic() >= deadline:
                warnings.warn(f"another process has been computing cache entry {k} for {wait:.0f} s; computing "
                              "it here too", CacheWarning, stacklevel=4)
                return
            time.sleep(delay)
            delay = min(2 * delay, 0.25)
            continue
        try:
            os.utime(fd)  # in use now: prune() leaves a recent lock file alone
        except OSError:
            pass
        return


#: Results of pure computations this process has made, by key (the last MEMO_SIZE): :func:`memo`.
_MEMO: dict = {}
MEMO_SIZE = 64


def memo(key: tuple, compute):
    """``compute()``, or its result for ``key`` if this process computed it before.

    For fits that several tasks share within one process: the step-1 law of the C4-loss
    pipeline and its bootstrap refits are the same for every task (the same C4 losses), and
    the automatic choice fits them once per worker instead of once per task.  ``key`` must
    hold everything ``compute`` reads (data as bytes); a hit returns the same object, so
    callers must not change it.  Kept in memory only, whatever ``TASKLADDER_NO_CACHE`` says:
    it cannot change a result.
    """
    if key in _MEMO:
        _MEMO[key] = _MEMO.pop(key)  # most recently used last
        return _MEMO[key]
    value = compute()
    _MEMO[key] = value
    if len(_MEMO) > MEMO_SIZE:
        del _MEMO[next(iter(_MEMO))]
    return value


#: With the disk cache off, :func:`cached`'s entries of this process, pickled (the last KEPT_BYTES of
#: them).  Without them a command with ``--no-cache`` fitted a chain again in every stage that needs it
#: (``reproduce --no-cache`` made 148 chained fits, 106 of them distinct: the paper's design, the
#: design-choice table and the automatic choice each fitted the chains they share in new workers).
#: Pickled so that a hit is a fresh object, as one read from disk is: a caller may change what it got.
_KEPT: dict[str, bytes] = {}
KEPT_BYTES = 64 << 20
#: While a forked job runs (:func:`new_entries`): the entries it computes, sent back to its parent.
_NEW: list | None = None


def recall(k: str):
    """The entry under ``k`` if there is one, or None; computes nothing.  On disk, or with the disk
    cache off, kept in this process's memory (:func:`kept`)."""
    if enabled():
        return load(k)
    blob = _KEPT.get(k)
    if blob is None:
        return None
    _KEPT[k] = _KEPT.pop(k)  # most recently used last
    return pickle.loads(blob)


def _in_memory(k: str, compute):
    hit = recall(k)
    if hit is not None:
        return hit
    obj = compute()
    kept(k, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    return obj


def kept(k: str, blob: bytes) -> None:
    """Keep the pickled entry ``blob`` under ``k`` in this process (the disk cache off), and pass it on
    to the parent if a forked job computed it: a fit made in a worker is not made again here."""
    _KEPT.pop(k, None)
    _KEPT[k] = blob
    total = sum(map(len, _KEPT.values()))
    while total > KEPT_BYTES and len(_KEPT) > 1:
        total -= len(_KEPT.pop(next(iter(_KEPT))))
    if _NEW is not None:
        _NEW.append((k, blob))


@contextmanager
def new_entries():
    """Collect the entries :func:`cached` keeps in memory inside the block (the disk cache off) in the
    list it yields, for a worker to send back to its parent, which :func:`kept` them."""
    global _NEW
    outer, _NEW = _NEW, []
    try:
        yield _NEW
    finally:
        _NEW = outer  # the parent keeps what it is sent (parallel.over_cores), passing it on in turn


def forget() -> None:
    """Forget what this process computed (:func:`memo`'s results and the in-memory entries); the disk
    cache is untouched.  For timing a cold path twice in one process (benchmarks/)."""
    _MEMO.clear()
    _KEPT.clear()


def clear() -> tuple[int, int]:
    """Remove every entry (and stray temp and lock files); returns (entries removed, bytes freed).
    The entries this process keeps in memory go too."""
    _KEPT.clear()
    d = cache_dir()
    n = size = 0
    if d.is_dir():
        for p in d.iterdir():
            if p.is_file() and _OURS.fullmatch(p.name):
                size += p.stat().st_size
                p.unlink()
                n += p.name.endswith(SUFFIX)
    return n, size


def max_bytes() -> int:
    """The cap on the cache folder's size: $TASKLADDER_CACHE_MAX_MB (MB, > 0), else
    :data:`DEFAULT_MAX_MB`; a value that is not a positive number is ignored with a warning."""
    env = os.environ.get("TASKLADDER_CACHE_MAX_MB", "")
    if env:
        try:
            mb = float(env)
        except ValueError:
            mb = float("nan")
        if mb > 0 and mb != float("inf"):
            return int(mb * 1e6)
        warnings.warn(f"TASKLADDER_CACHE_MAX_MB={env!r} is not a positive number of MB; using "
                      f"{DEFAULT_MAX_MB}", CacheWarning, stacklevel=2)
    return DEFAULT_MAX_MB * 1_000_000


def prune(limit: int | None = None) -> tuple[int, int]:
    """Past ``limit`` bytes (default :func:`max_bytes`), remove the least recently used entries
    down to 80% of it; temp files of writes that died an hour ago, and lock files no process has
    taken for an hour, go too.  Returns (files
    removed, bytes freed).  Only the cache's own files are counted or touched (:data:`_OURS`)."""
    import time

    d = cache_dir()
    limit = max_bytes() if limit is None else limit
    entries, n, freed = [], 0, 0
    try:
        listing = list(os.scandir(d))
    except OSError:
        return 0, 0
    old = time.time() - _STALE_TMP
    for e in listing:
        try:
            if not (e.is_file() and _OURS.fullmatch(e.name)):
                continue
            st = e.stat()
            if e.name.endswith(SUFFIX):
                entries.append((st.st_mtime, st.st_size, e.path))
            elif st.st_mtime < old:
                os.unlink(e.path)
                n, freed = n + 1, freed + st.st_size
        except OSError:  # gone since the listing (another process): nothing to count
            continue
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return n, freed
    for _, size, path in sorted(entries):  # least recently used first
        if total <= 0.8 * limit:
            break
        try:
            os.unlink(path)
        except OSError:
            continue
        total, n, freed = total - size, n + 1, freed + size
    return n, freed


def info() -> tuple[Path, int, int]:
    """(folder, entries, bytes)."""
    d = cache_dir()
    files = [p for p in d.iterdir() if p.suffix == SUFFIX and _OURS.fullmatch(p.name)] if d.is_dir() else []
    return d, len(files), sum(p.stat().st_size for p in files)
