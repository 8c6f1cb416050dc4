"""The on-disk cache of fits (taskladder.cache): same answers, invalidation, corruption, concurrency."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import imported, probe_cli

from taskladder import cache
from taskladder.datasets import olmo2_ladder

ARGS = ["predict", "--target", "13B-5T", "--task", "piqa", "--json"]


def _cli(cache_dir, *args):
    env = {**os.environ, "TASKLADDER_CACHE": str(cache_dir)}
    env.pop("TASKLADDER_NO_CACHE", None)
    return subprocess.run([sys.executable, "-m", "taskladder.cli", *map(str, args)], capture_output=True, text=True,
                          env=env)


def _entries(d):
    return sorted(p for p in d.glob("*" + cache.SUFFIX))


#: What one task's automatic prediction for a bundled target stores: its backtests, fits and
#: bootstraps (by the table's content), the state a prediction needs (by the ladder files'
#: bytes), the final fit of each of its 4 chained pipelines (shared with `predict
#: --paper`/`--design`) and the bundled targets' final values (by the bundled files' bytes)
ONE_TASK = {"auto-fit": 1, "auto-state": 1, "bundled-targets": 1, "chain": 4}


def _kinds(d) -> dict:
    from collections import Counter

    return dict(Counter(p.name.rsplit("-", 1)[0] for p in _entries(d)))


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A cache filled by one cold run of ARGS, and that run: tests copy it rather than
    paying the cold fits again (read-only here: copy before changing it)."""
    d = tmp_path_factory.mktemp("filled") / "cache"
    cold = _cli(d, *ARGS)
    assert cold.returncode == 0, cold.stderr
    return d, cold


def _copy(filled, tmp_path):
    import shutil

    return shutil.copytree(filled[0], tmp_path / "cache")


def test_cache_on_and_off_give_identical_output(filled):
    d, cold = filled
    assert _kinds(d) == ONE_TASK
    warm = _cli(d, *ARGS)
    off = _cli(d, *ARGS, "--no-cache")
    assert warm.stdout == cold.stdout == off.stdout
    f1 = _cli(d.parent / "forecast", "forecast", "--target", "7B-4T", "--upto", "0.5", "--task", "mmlu", "--json")
    f2 = _cli(d.parent / "forecast", "forecast", "--target", "7B-4T", "--upto", "0.5", "--task", "mmlu", "--json",
              "--no-cache")
    assert f1.returncode == 0 and f1.stdout == f2.stdout, f1.stderr


def test_a_changed_ladder_file_invalidates_the_cache(tmp_path):
    d = tmp_path / "cache"
    path = tmp_path / "ladder.csv"
    lad = olmo2_ladder().ladder
    lad.to_csv(path, index=False)
    args = ["predict", "--ladder", path, "--n", "7B", "--tokens", "4T", "--task", "piqa", "--json"]
    first = _cli(d, *args)
    assert first.returncode == 0, first.stderr
    n0 = len(_entries(d))
    changed = lad.copy()
    i = changed.index[(changed["task"] == "piqa") & (changed["metric"] == "bpb")][-1]
    changed.loc[i, "value"] *= 1.01
    changed.to_csv(path, index=False)
    second = _cli(d, *args)
    fresh = _cli(d, *args, "--no-cache")
    assert len(_entries(d)) == 2 * n0  # new entries, not the old ones reused
    assert second.stdout == fresh.stdout != first.stdout


def test_a_changed_size_table_invalidates_the_cache(tmp_path):
    # a ladder without N reads it from --sizes: the table's bytes key the state as the ladder's do
    d = tmp_path / "cache"
    lad = olmo2_ladder().ladder
    lad.drop(columns="n").to_csv(tmp_path / "ladder.csv", index=False)
    table = lad.groupby("size", as_index=False)["n"].first()
    table.to_csv(tmp_path / "sizes.csv", index=False)
    args = ["predict", "--ladder", tmp_path / "ladder.csv", "--sizes", tmp_path / "sizes.csv", "--n", "7B",
            "--tokens", "4T", "--task", "piqa", "--paper", "--json"]
    first = _cli(d, *args)
    assert first.returncode == 0, first.stderr
    table.assign(n=np.where(table["size"] == "1B", table["n"] * 1.05, table["n"]).astype("int64")).to_csv(
        tmp_path / "sizes.csv", index=False)
    second = _cli(d, *args)
    assert second.stdout == _cli(d, *args, "--no-cache").stdout != first.stdout


def test_a_corrupt_entry_is_ignored_with_a_warning(filled, tmp_path):
    d, good = _copy(filled, tmp_path), filled[1]
    corrupt = _entries(d)
    for p in corrupt:
        p.write_bytes(b"not a pickle at all")
    r = _cli(d, *ARGS)
    assert r.returncode == 0 and r.stdout == good.stdout
    warn = [x for x in r.stderr.splitlines() if x.strip()]
    # one line per corrupt entry read: the state, then the fits it is rebuilt from
    assert len(warn) == len(corrupt) == sum(ONE_TASK.values()), r.stderr
    assert all(w.startswith("taskladder: warning: ignoring unreadable cache entry") for w in warn), r.stderr
    # and the recomputed entry replaced it
    for p in _entries(d):
        pickle.loads(p.read_bytes())


def test_two_processes_writing_at_once_leave_it_valid(tmp_path):
    d = tmp_path / "cache"
    env = {**os.environ, "TASKLADDER_CACHE": str(d)}
    env.pop("TASKLADDER_NO_CACHE", None)
    cmd = [sys.executable, "-m", "taskladder.cli", *ARGS]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert outs[0][0] == outs[1][0]
    assert _kinds(d) == ONE_TASK and not list(d.glob("*.tmp"))
    for p in _entries(d):
        pickle.loads(p.read_bytes())
    again = _cli(d, *ARGS)
    assert again.stdout == outs[0][0]


#: A process asking the cache for entry t-0...0, computed in argv[2] seconds; the computation
#: logs "its pid, its forked child's pid" to argv[1] (the child sleeps a minute holding the files
#: the parent had open, the lock's among them, as forked fitting workers do).
_COMPUTE = """
import os, sys, time
from taskladder import cache

def compute():
    child = os.fork()
    if child == 0:
        os.close(1), os.close(2)  # the parent's output ends with the parent
        time.sleep(60)
        os._exit(0)
    with open(sys.argv[1], "a") as f:
        f.write(f"{os.getpid()} {child}\\n")
    time.sleep(float(sys.argv[2]))
    return os.getpid()

print(cache.cached("t-" + "0" * 40, compute))
"""


def _computing(d, log, seconds):
    env = {**os.environ, "TASKLADDER_CACHE": str(d)}
    env.pop("TASKLADDER_NO_CACHE", None)
    return subprocess.Popen([sys.executable, "-c", _COMPUTE, str(log), str(seconds)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _logged(log, n, timeout=60.0):
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= n:
            return [tuple(map(int, line.split())) for line in lines]
        time.sleep(0.05)
    raise AssertionError(f"{n} computations not logged in {timeout} s")


def _reap(pids):
    import signal

    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_two_processes_missing_the_same_entry_compute_it_once(tmp_path):
    log = tmp_path / "computed"
    first = _computing(tmp_path / "cache", log, 2)
    (pid, child), = _logged(log, 1)
    second = _computing(tmp_path / "cache", log, 2)  # misses the entry while the first computes it
    try:
        outs = [p.communicate(timeout=120) for p in (first, second)]
        assert [p.returncode for p in (first, second)] == [0, 0], [o[1] for o in outs]
        assert len(_logged(log, 1)) == 1  # computed once: the second waited and read the first's
        assert [int(o[0]) for o in outs] == [pid, pid]
    finally:
        _reap([child])


def test_a_computation_killed_mid_way_lets_the_next_process_compute(tmp_path):
    # the kernel releases the dead process's lock although its forked child still holds its files
    import time

    log = tmp_path / "computed"
    first = _computing(tmp_path / "cache", log, 60)
    (pid, child), = _logged(log, 1)
    second = _computing(tmp_path / "cache", log, 0)
    try:
        time.sleep(1.0)
        assert second.poll() is None  # waiting for the first
        first.kill()
        first.wait()
        out, err = second.communicate(timeout=20)  # not after the child's minute (a flock would wait)
        assert second.returncode == 0, err
        (_, _), (pid2, child2) = _logged(log, 2)
        assert int(out) == pid2 != pid and cache.load("t-" + "0" * 40) is None  # (this process's cache)
    finally:
        _reap([child] + [c for _, c in _logged(log, 1)[1:]])


def test_a_process_waits_only_so_long_for_another_s_computation(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TASKLADDER_NO_CACHE", raising=False)
    log = tmp_path / "computed"
    holder = _computing(tmp_path / "cache", log, 60)  # stopped (Ctrl-Z) or stuck, as far as others see
    (pid, child), = _logged(log, 1)
    try:
        said = []
        monkeypatch.setattr(cache, "on_wait", said.append)  # the CLI's line on a terminal
        with pytest.warns(cache.CacheWarning, match="computing it here too"):
            with cache.computing("t-" + "0" * 40, wait=0.5):
                pass
        assert said == ["t-" + "0" * 40]  # once, as the wait began
        monkeypatch.setenv("TASKLADDER_NO_CACHE", "1")  # the cache off: no lock, no wait
        with cache.computing("t-" + "0" * 40, wait=0.0):
            pass
        # a folder without record locks (NFS without its lock daemon: ENOLCK): computed at once,
        # not after WAIT_S of retries
        import errno
        import fcntl
        import warnings

        monkeypatch.delenv("TASKLADDER_NO_CACHE")

        def no_locks(fd, op):
            raise OSError(errno.ENOLCK, "No locks available")

        monkeypatch.setattr(fcntl, "lockf", no_locks)
        said.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with cache.computing("t-" + "0" * 40, wait=60.0):
                pass
        monkeypatch.setattr(cache, "fcntl", None)  # no fcntl at all (Windows): no lock either
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with cache.computing("t-" + "0" * 40, wait=60.0):
                pass
        assert said == []
    finally:
        holder.kill()
        holder.wait()
        _reap([child])


def test_a_waiting_process_polls_every_quarter_second_at_most(monkeypatch):
    """Polls for another process's lock start at 20 ms and double up to 0.25 s, so a waiter
    answers within a quarter second of the other's result, however long it waited."""
    import errno
    import time
    import types

    tries = []

    def held_nine_times(fd, op):
        tries.append(op)
        if len(tries) < 10:
            raise OSError(errno.EAGAIN, "held")

    monkeypatch.setattr(cache, "fcntl", types.SimpleNamespace(lockf=held_nine_times, LOCK_EX=2, LOCK_NB=4))
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        cache._lock(fd, 900.0, "t-" + "0" * 40)
    finally:
        os.close(fd)
    assert slept == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.25, 0.25, 0.25, 0.25, 0.25]) and len(tries) == 10


_PREDICT_COUNTING_FITS = """
import sys
import taskladder
import taskladder.trust

fit = taskladder.trust.fit_states

def counted(*args, **kwargs):
    with open(sys.argv[1], "a") as f:
        f.write("fit\\n")
    return fit(*args, **kwargs)

taskladder.trust.fit_states = counted
print(taskladder.predict("7B", "4T", tasks="piqa").to_json())
"""


def test_two_predictions_started_together_fit_the_ladder_once(tmp_path):
    env = {**os.environ, "TASKLADDER_CACHE": str(tmp_path / "cache")}
    env.pop("TASKLADDER_NO_CACHE", None)
    log = tmp_path / "fits"
    procs = [subprocess.Popen([sys.executable, "-c", _PREDICT_COUNTING_FITS, str(log)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    assert outs[0][0] == outs[1][0] and log.read_text() == "fit\n"


def test_load_store_and_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path))
    monkeypatch.delenv("TASKLADDER_NO_CACHE", raising=False)
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    k = cache.key("t", df, ("mmlu",), 0.9)
    assert k == cache.key("t", df.copy(), ("mmlu",), 0.9)
    assert k != cache.key("t", df.assign(a=[1.0, 2.000001]), ("mmlu",), 0.9)
    assert k != cache.key("t", df, ("mmlu",), 0.8)
    assert cache.load(k) is None
    cache.store(k, {"x": 1})
    assert cache.load(k) == {"x": 1}
    (tmp_path / (k + cache.SUFFIX)).write_bytes(b"\x80garbage")
    with pytest.warns(cache.CacheWarning, match="unreadable cache entry"):
        assert cache.load(k) is None
    monkeypatch.setenv("TASKLADDER_NO_CACHE", "1")
    cache.store(k, {"x": 2})
    assert cache.load(k) is None and not (tmp_path / (k + cache.SUFFIX)).exists()
    monkeypatch.delenv("TASKLADDER_NO_CACHE")
    cache.store(k, 1)
    (tmp_path / f".{k}.abc123_x.tmp").write_bytes(b"half")  # a temp file a killed process left
    (tmp_path / f".{k}.lock").write_bytes(b"")  # the lock of its computation (cache.computing)
    others = {"notes.pkl": b"mine", "download.tmp": b"theirs", "model-1234.pkl": b"not a key"}
    for name, data in others.items():  # TASKLADDER_CACHE pointed at a shared folder
        (tmp_path / name).write_bytes(data)
    assert cache.info()[1] == 1
    assert cache.clear()[0] == 1 and cache.info()[1] == 0  # one entry removed, its temp and lock files too
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == others


def test_an_answer_of_another_shape_under_its_key_is_computed_again(tmp_path, monkeypatch):
    # an entry whose shape an answer does not expect (an older version's, a hand-edited file) is a
    # miss, recomputed and stored over, never returned (serve._recall); a right one says again
    # what reading the files warned, as a fresh read would
    import warnings

    from taskladder import serve
    from taskladder.errors import InputWarning

    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TASKLADDER_NO_CACHE", raising=False)
    lad = olmo2_ladder().ladder
    lad[lad["task"].isin(["piqa", "mmlu"])].to_csv(tmp_path / "l.csv", index=False)
    files = [tmp_path / "l.csv"]
    src = serve._source_hash(files, None, False)
    desc_key, tasks_key = cache.key("description", src), cache.key("acc-tasks", src)
    fresh = serve.ladder_description(files).result
    assert serve.default_tasks(files) == ["mmlu", "piqa"]
    for stale in ({"runs": []}, ("x",), ([], ()), None):
        cache.store(desc_key, stale)
        cache.store(tasks_key, stale if stale != ([], ()) else [])
        got = serve.ladder_description(files)
        assert got.result == fresh and got.description is not None  # read and described again
        assert serve.default_tasks(files) == ["mmlu", "piqa"]
        assert cache.load(desc_key)[0] == fresh and cache.load(tasks_key) == ["mmlu", "piqa"]
    cache.store(desc_key, (fresh, ("l.csv: a warning from reading it",)))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        got = serve.ladder_description(files)
    assert got.description is None and got.result == fresh  # from the cache
    assert [str(w.message) for w in said if w.category is InputWarning] == ["l.csv: a warning from reading it"]


def test_the_folder_is_capped_least_recently_used_first(tmp_path, monkeypatch):
    """Past the cap, the entries read or written longest ago go, down to 80% of it; a read
    refreshes an entry; a temp file a dead process left an hour ago goes; other files stay."""
    import time

    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path))
    monkeypatch.delenv("TASKLADDER_NO_CACHE", raising=False)
    now = time.time()
    keys = [f"t-{i:040x}" for i in range(10)]
    for i, k in enumerate(keys):  # 10 entries of 1,000 bytes, k[0] the oldest
        (tmp_path / (k + cache.SUFFIX)).write_bytes(pickle.dumps(b"x" * 950).ljust(1000, b"\0"))
        os.utime(tmp_path / (k + cache.SUFFIX), (now - 1000 + i, now - 1000 + i))
    assert cache.load(keys[0]) == b"x" * 950  # read now: the most recently used
    stale, fresh = tmp_path / f".{keys[3]}.dead.tmp", tmp_path / f".{keys[4]}.live.tmp"
    for f, age in ((stale, 7200), (fresh, 60)):
        f.write_bytes(b"half")
        os.utime(f, (now - age, now - age))
    old_lock, new_lock = tmp_path / f".{keys[5]}.lock", tmp_path / f".{keys[6]}.lock"
    for f, age in ((old_lock, 7200), (new_lock, 60)):  # lock files (cache.computing) of 0 bytes
        f.write_bytes(b"")
        os.utime(f, (now - age, now - age))
    (tmp_path / "notes.pkl").write_bytes(b"x" * 5000)  # not ours: neither counted nor removed
    assert cache.prune(20_000) == (2, 4)  # under the cap: only the dead write's temp file, the old lock
    assert not stale.exists() and fresh.exists() and not old_lock.exists() and new_lock.exists()
    assert cache.prune(8_000) == (4, 4000)  # 10,000 > 8,000: down to 6,400 (80%), oldest first
    left = sorted(p.name[:-len(cache.SUFFIX)] for p in _entries(tmp_path) if p.name.startswith("t-"))
    assert left == sorted([keys[0], *keys[5:]])  # keys[0] kept: it was read
    assert (tmp_path / "notes.pkl").exists() and fresh.exists()
    # a process prunes at its first write, under $TASKLADDER_CACHE_MAX_MB
    monkeypatch.setattr(cache, "_pruned", False)
    monkeypatch.setenv("TASKLADDER_CACHE_MAX_MB", "0.004")
    cache.store(keys[1], b"new")
    assert cache.info()[2] <= 0.8 * 4000 and cache.load(keys[1]) == b"new"


@pytest.mark.parametrize("value, cap", [("", 512_000_000), ("64", 64_000_000), ("0.5", 500_000),
                                        ("0", None), ("-3", None), ("lots", None), ("inf", None)])
def test_the_caps_setting(monkeypatch, value, cap):
    monkeypatch.setenv("TASKLADDER_CACHE_MAX_MB", value)
    if cap is None:
        with pytest.warns(cache.CacheWarning, match="TASKLADDER_CACHE_MAX_MB=.* is not a positive number"):
            assert cache.max_bytes() == cache.DEFAULT_MAX_MB * 1_000_000
    else:
        assert cache.max_bytes() == cap


def test_keys_follow_content_order_names_version_and_format(monkeypatch):
    import taskladder

    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    k = cache.key("t", df)
    assert k != cache.key("t", df.iloc[::-1].reset_index(drop=True))  # row order is content (steps in order)
    assert k != cache.key("t", df.rename(columns={"a": "c"}))
    monkeypatch.setattr(taskladder, "__version__", "0.0.0-other")
    assert cache.key("t", df) != k
    monkeypatch.undo()
    monkeypatch.setattr(cache, "FORMAT", cache.FORMAT + 1)
    assert cache.key("t", df) != k
    assert cache.key("t", 1, 23) != cache.key("t", 12, 3)  # parts stay apart


def test_no_cache_zero_means_on_and_a_failed_store_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path))
    monkeypatch.setenv("TASKLADDER_NO_CACHE", "0")
    assert cache.enabled()
    cache.store("t-" + "0" * 40, 1)
    assert cache.load("t-" + "0" * 40) == 1

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.pickle, "dump", full)
    with pytest.warns(cache.CacheWarning, match="No space left on device"):
        cache.store("t-" + "1" * 40, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t-" + "0" * 40 + ".pkl"]  # no temp file left


def test_cache_folder_follows_xdg_and_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv("TASKLADDER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "taskladder"
    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"


def test_cache_cli_info_and_clear(filled, tmp_path):
    d = _copy(filled, tmp_path)
    r = _cli(d, "cache", "info")
    n = sum(ONE_TASK.values())
    assert r.returncode == 0 and f"{n} entries" in r.stdout and "of at most 512 MB" in r.stdout
    r = _cli(d, "cache", "clear")
    assert r.returncode == 0 and f"removed {n} entries" in r.stdout
    assert _entries(d) == [] and "0 entries" in _cli(d, "cache", "info").stdout


def test_a_warm_prediction_reads_no_table_and_imports_neither_pandas_nor_scipy(filled):
    # the state a prediction needs is keyed by the ladder files' bytes (taskladder.serve),
    # so a repeated `predict` answers from it alone, for any target: the interactive path
    # (docs/speed.md).  The filled cache saw only ARGS' target.
    d = filled[0]
    args = ["predict", "--n", "7B", "--tokens", "4T", "--task", "piqa", "--json"]
    plain = _cli(d, *args)
    assert plain.returncode == 0, plain.stderr
    warm = probe_cli(d, *args)
    assert warm.stdout == plain.stdout, warm.stderr
    assert imported(warm) == "[]", warm.stderr
    # and a new target on the same ladder is answered from the same state
    other = probe_cli(d, *args[:2], "13B", *args[3:])
    assert imported(other) == "[]", other.stderr
    assert json.loads(other.stdout)["predictions"][0]["predicted"] > json.loads(plain.stdout)["predictions"][0]["predicted"]


def test_a_warm_prediction_for_a_bundled_target_imports_no_pandas(filled, tmp_path):
    # the bundled targets' actuals are cached as arrays (datasets.bundled_targets): comparing
    # with 7B-4T is as interactive as predicting a bare (N, D)
    d = _copy(filled, tmp_path)
    args = ["predict", "--target", "7B-4T", "--task", "piqa", "--json"]
    first = _cli(d, *args)
    assert first.returncode == 0, first.stderr
    warm = probe_cli(d, *args)
    assert warm.stdout == first.stdout == _cli(d, *args, "--no-cache").stdout, warm.stderr
    assert imported(warm) == "[]", warm.stderr
    (row,) = json.loads(warm.stdout)["predictions"]
    # the paper's 7B-4T PIQA actual (README: 82.0), the mean of its last 5 checkpoints
    assert row["target"] == "7B-4T" and round(100 * row["actual"], 1) == 82.0


@pytest.mark.parametrize("design", [["--paper"], ["--design", "single_step"], ["--design", "flops_olmo"]])
def test_a_warm_fixed_pipeline_answers_the_same_without_pandas_or_scipy(filled, tmp_path, design):
    # predict --paper / --design keep each task's fitted laws by the files' bytes too
    d = _copy(filled, tmp_path)
    args = ["predict", *design, "--n", "6887575552", "--tokens", "4T", "--task", "piqa", "--json"]
    first = _cli(d, *args)
    assert first.returncode == 0, first.stderr
    off = _cli(d, *args, "--no-cache")
    warm = probe_cli(d, *args)
    assert warm.stdout == first.stdout == off.stdout, warm.stderr
    assert imported(warm) == "[]", warm.stderr
    pred = json.loads(warm.stdout)["predictions"][0]
    assert pred["task"] == "piqa" and 0.7 < pred["predicted"] < 0.9
    assert ("fits" in json.loads(warm.stdout)) == (design[-1] != "single_step")
    # a target other than the paper's sizes: the same refusal whether or not the fit is cached
    bad = [*args[:len(design) + 2], "5B", *args[len(design) + 3:]]
    for run in (_cli(d, *bad), _cli(d, *bad, "--no-cache")):
        if design[-1] == "flops_olmo":
            assert run.returncode == 2 and "flops_olmo needs OLMo's per-token FLOPs" in run.stderr, run.stderr
            assert run.stderr.count("\n") == 1 and not run.stdout
        else:
            assert run.returncode == 0, run.stderr


def test_the_design_names_known_without_pandas_are_the_designs():
    from taskladder.analyses import DESIGNS, FLOPS_OLMO
    from taskladder.serve import DESIGN_NAMES

    assert DESIGN_NAMES == (*DESIGNS, FLOPS_OLMO)


def test_a_ladder_folders_state_is_keyed_by_its_result_files_only(tmp_path):
    from taskladder.serve import _source_hash

    d = tmp_path / "ladder"
    (d / "lm_eval_190M").mkdir(parents=True)
    (d / "runs.csv").write_text("run,step\n190M-1xC,1\n")
    (d / "lm_eval_190M" / "results_2025.json").write_text("{}")
    h0 = _source_hash([d], None, False)
    (d / "model.safetensors").write_bytes(b"\0" * 1000)  # a checkpoint beside the results: never read
    assert _source_hash([d], None, False) == h0
    (d / "lm_eval_190M" / "results_2025.json").write_text('{"results": {}}')
    h1 = _source_hash([d], None, False)
    assert h1 != h0
    assert _source_hash([d], None, True) != h1  # reading options are part of the key
    assert _source_hash([tmp_path / "missing.csv"], None, False) is None  # the reader reports it


def test_the_c4_step_1_is_fitted_once_for_every_task(monkeypatch):
    # the C4-loss feature is one series for all tasks: its step-1 law and bootstrap refits are
    # computed once per process (cache.memo) and are the very same objects for each task
    from taskladder.analyses import DESIGNS
    from taskladder.chain import Ladder, TaskPredictor
    from taskladder.trust import DesignModel

    monkeypatch.setattr(cache, "_MEMO", {})
    lad = Ladder(olmo2_ladder().ladder)
    a = TaskPredictor("piqa", DESIGNS["c4"]).fit(lad)
    b = TaskPredictor("csqa", DESIGNS["c4"]).fit(lad)
    assert a.step1_ is b.step1_ and a.step2_ is not b.step2_
    fresh = cache._MEMO.copy()
    cache._MEMO.clear()
    c = TaskPredictor("csqa", DESIGNS["c4"]).fit(lad)  # refitted from scratch: the same law
    assert c.step1_ is not b.step1_ and c.step1_.params_ == b.step1_.params_
    cache._MEMO.update(fresh)
    ma, mb = (DesignModel("c4", t, n_starts=2).fit(lad) for t in ("piqa", "csqa"))
    assert ma.state().boot1 is mb.state().boot1 and not ma.state().boot1.flags.writeable


def test_memo_keeps_the_most_recent_entries(monkeypatch):
    monkeypatch.setattr(cache, "_MEMO", {})
    monkeypatch.setattr(cache, "MEMO_SIZE", 2)
    calls = []

    def f(k):
        return cache.memo(("k", k), lambda: calls.append(k) or k * 10)

    assert [f(1), f(2), f(1), f(3), f(1), f(2)] == [10, 20, 10, 30, 10, 20]
    assert calls == [1, 2, 3, 2]  # 1 was used again before 3 came, so 2 was the one dropped


def test_a_ladder_of_two_tasks_is_predicted_on_those_by_default_cold_and_warm(tmp_path):
    # a user's ladder evaluated on MMLU and PIQA only: `predict` without --task predicts those
    # two (it used to stop at the first paper task the files lack), and the warm run learns
    # the task list from the cache, reading no table
    df = olmo2_ladder().ladder
    f = tmp_path / "two.csv"
    df[df["task"].isin(["piqa", "mmlu"])].to_csv(f, index=False)
    args = ["predict", "--ladder", f, "--paper", "--n", "7B", "--tokens", "4T", "--json"]
    d = tmp_path / "cache"
    cold = _cli(d, *args)
    assert cold.returncode == 0, cold.stderr
    assert [p["task"] for p in json.loads(cold.stdout)["predictions"]] == ["mmlu", "piqa"]  # the paper's order
    warm = probe_cli(d, *args)
    assert warm.stdout == cold.stdout and imported(warm) == "[]", warm.stderr
    # a named task the files lack is still refused in one line
    bad = _cli(d, *args, "--task", "hellaswag")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "tasks with data: mmlu, piqa" in bad.stderr
    # backtest (and report) take the same default from the table they read
    bt = _cli(d, "backtest", "--ladder", f, "--json")
    assert bt.returncode == 0, bt.stderr
    assert sorted({r["task"] for r in json.loads(bt.stdout)["runs"]}) == ["mmlu", "piqa"]


def test_default_tasks_are_the_papers_the_ladder_has_else_any_known_else_its_own():
    from taskladder.errors import TaskladderError
    from taskladder.tasks import PAPER_TASKS, default_tasks

    assert default_tasks(["piqa", "boolq", "mmlu"]) == ["mmlu", "piqa"]
    assert default_tasks(reversed(PAPER_TASKS + ("winogrande",))) == list(PAPER_TASKS)
    # the registry's order, not the alphabet's, and its tasks only
    assert default_tasks(["winogrande", "cloze_word", "boolq", "zz"]) == ["boolq", "winogrande", "cloze_word"]
    assert default_tasks(["mine"]) == ["mine"]  # tests/test_own_tasks.py
    with pytest.raises(TaskladderError, match="for no task"):
        default_tasks([])


def test_the_backtest_is_cached_per_task_and_equals_the_serial_backtest(tmp_path, monkeypatch):
    from taskladder import trust
    from taskladder.chain import Ladder

    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TASKLADDER_NO_CACHE", raising=False)
    lad = Ladder(olmo2_ladder().ladder)
    tasks, designs = ["piqa", "mmlu"], ("flops", "c4")  # the two cheapest pipelines
    serial = trust.backtest(lad, tasks, designs)  # one loop: split, task, pipeline, run
    assert len(serial) == 2 * 2 * 2 * 4 and serial["covered"].notna().all()
    shares = []
    got = trust.backtest_table(lad, tasks, designs, n_jobs=2, progress=lambda share=1.0: shares.append(share))
    pd.testing.assert_frame_equal(got, serial)
    assert sum(shares) == pytest.approx(len(tasks))

    def refit(*args):
        raise AssertionError("refitted a cached backtest")

    monkeypatch.setattr(trust, "_backtest_design", refit)
    pd.testing.assert_frame_equal(trust.backtest_table(lad, tasks, designs, n_jobs=1), serial)
    # in another task order: the same rows, split by split, in that order
    reordered = pd.concat([serial[(serial["split"] == s) & (serial["task"] == t)]
                           for s in serial["split"].unique() for t in tasks[::-1]], ignore_index=True)
    pd.testing.assert_frame_equal(trust.backtest_table(lad, tasks[::-1], designs, n_jobs=1), reordered)
    with pytest.raises(AssertionError, match="refitted"):  # another level is another entry
        trust.backtest_table(lad, tasks, designs, level=0.8, n_jobs=1)


def test_a_warm_forecast_answers_the_same_without_pandas_and_a_changed_log_is_forecast_anew(tmp_path):
    # forecast is interactive too: a repeated one is answered from the cache by the files' bytes
    d = tmp_path / "cache"
    log = olmo2_ladder().targets["13B-5T"].full
    path = tmp_path / "run.csv"
    log[log["step"] <= log["step"].max() / 2].to_csv(path, index=False)
    args = ["forecast", "--target-file", path, "--tokens", "5T", "--task", "mmlu,piqa"]
    first = _cli(d, *args)
    assert first.returncode == 0, first.stderr
    warm = probe_cli(d, *args)
    assert warm.stdout == first.stdout == _cli(d, *args, "--no-cache").stdout, warm.stderr
    assert imported(warm) == "[]", warm.stderr
    js = probe_cli(d, *args, "--json")  # the same entry answers --json
    assert imported(js) == "[]" and json.loads(js.stdout)["forecasts"][0]["task"] == "mmlu"
    # the run has gone on: a longer log is forecast from its new checkpoints
    log[log["step"] <= 0.75 * log["step"].max()].to_csv(path, index=False)
    later = _cli(d, *args, "--json")
    assert later.returncode == 0, later.stderr
    a, b = (json.loads(r.stdout)["forecasts"][0] for r in (js, later))
    assert b["seen_frac"] > a["seen_frac"] and b["checkpoints"] > a["checkpoints"]
    assert later.stdout == _cli(d, *args, "--json", "--no-cache").stdout


def test_a_figure_drawn_before_from_the_same_data_is_copied_from_the_cache(tmp_path, monkeypatch):
    """plots.draw_all keys each figure by its function, its data, its file's name, the drawing
    code and matplotlib's version: the same figure again is copied, byte for byte; other data,
    edited drawing code or the cache turned off draw it anew."""
    from taskladder import plots

    calls = []

    def draw(xs, path):
        calls.append(path)
        fig, ax = plots._plt().subplots(figsize=(2, 2))
        ax.plot(xs)
        plots.save(fig, path)

    def run(xs, folder):
        plots.draw_all([(draw, (xs, tmp_path / folder / "a.png"), {})])
        return (tmp_path / folder / "a.png").read_bytes()

    first = run([1, 2, 3], "one")
    assert run([1, 2, 3], "two") == first and len(calls) == 1  # copied from the cache
    assert run([1, 2, 4], "three") != first and len(calls) == 2  # other data
    monkeypatch.setattr(plots, "_source_hash", lambda: "the drawing code edited")
    assert run([1, 2, 3], "four") == first and len(calls) == 3
    monkeypatch.setenv("TASKLADDER_NO_CACHE", "1")
    assert run([1, 2, 4], "five") and len(calls) == 4
    # a figure whose data pickle cannot take has no key: drawn every time, as before the cache
    monkeypatch.delenv("TASKLADDER_NO_CACHE")
    assert plots.figure_key(draw, (lambda: 0, tmp_path / "a.png"), {}) is None


def test_a_cache_folder_that_cannot_be_written_is_said_once_and_the_answer_is_the_same(tmp_path):
    """Every fit, figure and lock would find the folder unwritable, the fits in forked workers too:
    one warning line for the whole command (it was one per entry: 105 for reproduce), the same answer."""
    (tmp_path / "a_file").write_text("")
    folder = tmp_path / "a_file" / "cache"
    args = ("predict", "--n", "7B", "--tokens", "4T", "--paper", "--json")
    r = _cli(folder, *args)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines == [f"taskladder: warning: cannot write the cache in {folder} (Not a "
                     "directory); what this command computes is not kept"], r.stderr
    off = _cli(folder, *args, "--no-cache")
    assert json.loads(r.stdout)["predictions"] == json.loads(off.stdout)["predictions"] and off.stderr == ""
    out = tmp_path / "data"
    r = _cli(folder, "data", "--out", out)  # figures drawn in forked workers, each finding no cache
    assert r.returncode == 0 and r.stderr.count("warning") == 1 and (out / "accuracy.png").is_file(), r.stderr


def test_with_the_cache_off_a_chain_fitted_in_a_worker_is_not_fitted_again_here(monkeypatch):
    # `reproduce --no-cache` fitted every chain again in each stage that needed it (148 chain fits
    # instead of 106): the fits a forked worker keeps in memory now come back to its parent
    from taskladder.chain import PAPER, Ladder, TaskPredictor, fit_predictor, fit_predictors

    monkeypatch.setenv("TASKLADDER_NO_CACHE", "1")
    monkeypatch.setattr(cache, "_KEPT", {})
    lad = Ladder(olmo2_ladder().ladder)
    a, b = fit_predictors(lad, [("piqa", PAPER), ("csqa", PAPER)], n_jobs=2)  # two forked workers
    assert len(cache._KEPT) == 2

    def refit(self, ladder):
        raise AssertionError(f"{self.task} fitted again")

    monkeypatch.setattr(TaskPredictor, "fit", refit)
    again = fit_predictor(lad, "csqa", PAPER)
    assert again is not b and again.predict(7e9, 4e12) == b.predict(7e9, 4e12)
    again.step2_ = None  # a hit is a copy: what a caller changes is not what the next one gets
    assert fit_predictor(lad, "csqa", PAPER).step2_ is not None
    cache.clear()
    assert not cache._KEPT
    with pytest.raises(AssertionError, match="csqa fitted again"):
        fit_predictor(lad, "csqa", PAPER)


def test_the_in_memory_entries_keep_the_most_recent_within_their_bytes(monkeypatch):
    monkeypatch.setenv("TASKLADDER_NO_CACHE", "1")
    monkeypatch.setattr(cache, "_KEPT", {})
    monkeypatch.setattr(cache, "KEPT_BYTES", 2500)
    calls = []

    def f(k):
        return cache.cached(f"k{k}", lambda: calls.append(k) or bytes(1000))

    for k in (1, 2, 1, 3, 1, 2):
        assert f(k) == bytes(1000)
    assert calls == [1, 2, 3, 2]  # two entries of ~1,000 bytes fit: 2 was the least recently used
    with cache.new_entries() as new:  # what a worker's job computes is listed for its parent
        f(2)  # kept before: not computed, not sent
        f(4)
    assert [k for k, _ in new] == ["k4"] and pickle.loads(new[0][1]) == bytes(1000)
    big = cache.cached("k5", lambda: calls.append(5) or bytes(4000))  # alone past the bytes: kept, alone
    assert cache.cached("k5", lambda: calls.append(5)) == big and calls[-1] == 5 and list(cache._KEPT) == ["k5"]
    monkeypatch.delenv("TASKLADDER_NO_CACHE")  # the disk cache on: entries go there, not to memory
    k = cache.key("test-kept", 5)
    assert cache.cached(k, lambda: 5) == 5 and k not in cache._KEPT and cache.load(k) == 5


def test_cached_fits_are_read_here_and_start_no_workers(tmp_path, monkeypatch):
    # the second pass over the same fits (a warm report's design choices and compute-vs-error
    # subsets) sends no job to a worker, and gets the same fits: the keys fits_over_cores is given
    # are the ones the fits are stored under
    from taskladder import analyses, parallel
    from taskladder.chain import PAPER, Ladder, fit_predictors

    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path))
    monkeypatch.delenv("TASKLADDER_NO_CACHE", raising=False)
    data = olmo2_ladder()
    lad = Ladder(data.ladder)
    sub = Ladder(data.ladder[~data.ladder["run"].str.startswith("1B")])
    targets = list(data.targets.values())

    def both():
        return (fit_predictors(sub, [("piqa", PAPER), ("arc_easy", PAPER)]),
                analyses.design_choices(lad, targets, ["piqa"], ["task_bpb", "single_step"]))

    first_fits, first_table = both()
    sent, real = [], parallel.over_cores

    def spy(fn, jobs, *args, **kwargs):
        jobs = list(jobs)
        sent.append(len(jobs))
        return real(fn, jobs, *args, **kwargs)

    monkeypatch.setattr(parallel, "over_cores", spy)
    fits, table = both()
    assert sent == [0, 0]
    assert [f.predict(7e9, 4e12) for f in fits] == [f.predict(7e9, 4e12) for f in first_fits]
    pd.testing.assert_frame_equal(table, first_table)


def test_every_option_a_cached_answer_depends_on_is_in_its_key(tmp_path, monkeypatch):
    """A forecast, a backtest and a fixed pipeline answered from the cache are those of the options
    asked: each option changed after a cached call gives the answer computed afresh, not the cached
    one (a key without that option would return it)."""
    from taskladder import serve

    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TASKLADDER_NO_CACHE", raising=False)
    base = dict(upto=0.5, tasks=("piqa",), level=0.9)
    first = serve.forecast_answer("13B-5T", None, **base).result
    for change in (dict(upto=0.4), dict(level=0.8)):
        got = serve.forecast_answer("13B-5T", None, **{**base, **change}).result
        fresh = serve.forecast_answer("13B-5T", None, fresh=True, **{**base, **change}).result
        assert got == fresh and got["forecasts"] != first["forecasts"], change
    base = dict(tasks=["piqa"], holdout=4, level=0.9)
    first = serve.backtest_answer(**base).result
    for change in (dict(holdout=3), dict(level=0.8), dict(tasks=["boolq"])):
        got = serve.backtest_answer(**{**base, **change}).result
        fresh = serve.backtest_answer(fresh=True, **{**base, **change}).result
        assert got == fresh and got["runs"] != first["runs"], change
    # a fixed pipeline's fits are kept per pipeline: another design is fitted, not read as the first
    targets = [olmo2_ladder().targets["7B-4T"]]
    bpb = serve.fixed_prediction(targets, ["piqa"], ("task_bpb", None, None, None)).rows
    c4 = serve.fixed_prediction(targets, ["piqa"], ("c4", None, None, None)).rows
    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path / "other"))
    assert c4 == serve.fixed_prediction(targets, ["piqa"], ("c4", None, None, None)).rows != bpb
