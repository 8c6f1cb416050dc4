"""taskladder.parallel: jobs over spawned one-thread workers (training, scoring: torch), results
and progress messages back; and jobs over forked workers (fitting, reading, drawing: no torch)."""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import _parallel_jobs as jobs  # noqa: E402

from taskladder import parallel  # noqa: E402
from taskladder.errors import TaskladderError  # noqa: E402


needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch (the eval extra)")


@needs_torch
@pytest.mark.parametrize("n_workers", [1, 2])
def test_every_job_runs_once_and_messages_come_back(n_workers):
    seen = []
    out = dict(parallel.run_jobs(jobs.square, [1, 2, 3, 4, 5], jobs.setup, (10,), n_workers, on_message=seen.append))
    assert {k: v[0] for k, v in out.items()} == {1: 11, 2: 14, 3: 19, 4: 26, 5: 35}
    assert sorted(seen) == [("saw", k) for k in (1, 2, 3, 4, 5)]
    if n_workers > 1:  # workers compute on one thread each
        assert {v[1] for v in out.values()} == {1}


@needs_torch
def test_a_single_job_of_a_parallel_call_runs_on_one_thread_like_a_worker():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)  # not one already (pytest-xdist workers start with one, tests/conftest.py)
    try:
        ((_, (value, threads)),) = list(parallel.run_jobs(jobs.square, [3], jobs.setup, (0,), 2))
        assert value == 9 and threads == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@needs_torch
def test_a_failing_job_raises_its_error_in_the_parent():
    with pytest.raises(TaskladderError, match="negative input -1"):
        list(parallel.run_jobs(jobs.square, [1, -1, 2], jobs.setup, (0,), 2))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_forked_jobs_run_once_each_and_inherit_what_they_are_given(n_jobs):
    # a lambda cannot be pickled: the workers must inherit the jobs, not receive them
    work = [(lambda k=k: k * k,) for k in range(6)]
    out = list(parallel.over_cores(jobs.call, work, n_jobs, init=jobs.mark_worker))
    assert sorted(i for i, _ in out) == list(range(6))
    assert {i: v for i, (v, _) in out} == {k: k * k for k in range(6)}
    # init ran in every forked worker (not in this process: it may limit threads)
    assert {marked for _, (_, marked) in out} == ({True} if n_jobs > 1 else {False})
    if n_jobs == 1:
        assert [i for i, _ in out] == list(range(6))  # here, in order


def test_where_fork_is_unsafe_portable_jobs_are_spawned_and_others_run_here(monkeypatch):
    # macOS: no fork; the fits and the tool-output reads (picklable) still use every core
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    out = dict(parallel.over_cores(jobs.pid_and_mark, [(k,) for k in range(4)], 2, init=jobs.mark_worker,
                                   portable=True))
    assert sorted(out) == [0, 1, 2, 3] and {marked for _, marked, _ in out.values()} == {True}
    assert all(pid != os.getpid() for _, _, pid in out.values())
    assert {k: v[0] for k, v in out.items()} == {k: k * k for k in range(4)}
    here = dict(parallel.over_cores(jobs.pid_and_mark, [(k,) for k in range(4)], 2, init=jobs.mark_worker))
    assert {pid for _, _, pid in here.values()} == {os.getpid()} and list(here) == [0, 1, 2, 3]


def test_a_forked_job_that_fails_raises_its_error_here():
    with pytest.raises(TaskladderError, match="negative input -1"):
        list(parallel.over_cores(jobs.check, [(1,), (-1,), (2,)], 2))


@pytest.mark.skipif(not parallel.can_fork(), reason="the platform does not fork")
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_an_unguarded_script_fits_in_parallel_whatever_the_default_start_method(tmp_path, method):
    # Python 3.14 makes forkserver Linux's default, and macOS's is spawn: both re-import a
    # script's __main__ in each worker, which failed at once for a script without an
    # `if __name__ == "__main__"` guard when the fits used the platform's default context
    script = tmp_path / "fit.py"
    script.write_text(textwrap.dedent(f"""
        import multiprocessing
        multiprocessing.set_start_method("{method}")
        from taskladder import trust
        from taskladder.datasets import olmo2_ladder
        states = trust.fit_states(olmo2_ladder().ladder, ["piqa"], designs=("task_bpb", "single_step"), n_jobs=2)
        print(sorted(states))
    """))
    env = {**os.environ, "TASKLADDER_NO_CACHE": "1"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['piqa']"


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_fits_over_cores_return_warn_and_fail_in_job_order_as_a_loop_here_would(n_jobs):
    import warnings

    from taskladder.errors import FitWarning

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        out = parallel.fits_over_cores(jobs.warn_then, [(k,) for k in range(5)], n_jobs)
    assert [v for v, _ in out] == [0, 1, 4, 9, 16]
    # the workers' warnings are said here, each with its category, in the order of the jobs
    assert [(w.category, str(w.message)) for w in said] == \
        [(c, f"job {k} {which}") for k in range(5) for c, which in ((FitWarning, "first"), (UserWarning, "second"))]
    assert ({pid for _, pid in out} != {os.getpid()}) == (n_jobs > 1)
    # the first failing job in job order raises, after the warnings of the jobs before it
    # (and its own), whichever worker finished first; later jobs' warnings are not said
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with pytest.raises(TaskladderError, match="negative input -2"):
            parallel.fits_over_cores(jobs.warn_then, [(1,), (-2,), (-3,), (4,)], n_jobs)
    assert [str(w.message) for w in said] == ["job 1 first", "job 1 second", "job -2 first", "job -2 second"]


def test_fits_over_cores_inside_a_worker_run_there():
    # a pool's workers cannot start processes of their own: a fit over the cores asked for
    # inside a job runs in that worker, in order, instead of failing
    out = dict(parallel.over_cores(jobs.nested, [(0,), (10,)], 2))
    assert {k: [v for v, _ in got] for k, got in out.items()} == {0: [0, 1], 1: [100, 121]}
    assert all(len({pid for _, pid in got}) == 1 and os.getpid() not in {pid for _, pid in got}
               for got in out.values())


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_fits_run_on_one_blas_thread_in_a_worker_and_here(n_jobs):
    # here as in a worker: a serial automatic prediction took 56 s and 85 CPU-s with two BLAS
    # threads spinning on tiny matrices, 41 s and 41 CPU-s with one; the parent's pool is restored
    import scipy.optimize  # noqa: F401  numpy's and scipy's BLAS loaded, as when fitting
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2):  # as on this project's 2-core machine, whatever the machine running the tests
        assert jobs.blas_threads(None) == 2
        assert parallel.fits_over_cores(jobs.blas_threads, [(0,), (1,)], n_jobs=n_jobs) == [1, 1]
        assert jobs.blas_threads(None) == 2
        assert [out for _, out in parallel.over_cores(jobs.blas_threads, [(0,)])] == [2]  # not a fit: left alone


@pytest.mark.parametrize("cache_on", [True, False])
def test_fits_over_cores_reads_cached_jobs_here_and_sends_only_the_rest_to_workers(tmp_path, monkeypatch, cache_on):
    # jobs 0 and 2 are in the cache (on disk, or kept in memory with the cache off): they are read here
    # and never run; jobs 1 and 3 run in workers; the results come back in job order, with the run
    # jobs' warnings only (a cached fit says nothing again)
    import warnings

    from taskladder import cache

    monkeypatch.setenv("TASKLADDER_CACHE", str(tmp_path))
    if not cache_on:
        monkeypatch.setenv("TASKLADDER_NO_CACHE", "1")
    cache.forget()
    keys = [cache.key("test-job", k) for k in range(4)]
    for k in (0, 2):
        if cache_on:
            cache.store(keys[k], ("cached", k))
        else:
            cache.kept(keys[k], __import__("pickle").dumps(("cached", k)))
    assert cache.recall(keys[0]) == ("cached", 0) and cache.recall(keys[1]) is None
    ticks = []
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        out = parallel.fits_over_cores(jobs.warn_then, [(-1,), (1,), (-3,), (3,)], 2, progress=lambda: ticks.append(1),
                                       keys=keys)
    assert out[0] == ("cached", 0) and out[2] == ("cached", 2)  # job -1 and -3 would have failed
    assert [v for v, _ in (out[1], out[3])] == [1, 9]
    assert {pid for _, pid in (out[1], out[3])} != {os.getpid()}  # run in workers
    assert [str(w.message) for w in said] == ["job 1 first", "job 1 second", "job 3 first", "job 3 second"]
    assert len(ticks) == 4
    cache.forget()
