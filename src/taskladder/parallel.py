"""Independent jobs over CPU cores: one process per core, one thread per process.

Micro models (thousands of parameters) are too small for a matrix multiply to use two
cores well: on this project's 2-core machine two one-thread processes, each training
or scoring its own model, finish a micro ladder 1.5x sooner than one two-thread process
(measured: ``taskladder run --preset micro``, docs/training.md).  Workers are spawned,
not forked: the parent has usually started torch's thread pools, which a fork does not
carry over safely.  Progress messages travel back on a queue while the jobs run.

Fitting, reading tool outputs and drawing figures import no torch and run in forked
processes instead (:func:`over_cores`): the workers inherit the data, which is never pickled.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from typing import Any

_STATE: dict[str, Any] = {}


def workers(requested: int | None = None) -> int:
    """``requested`` or, by default, the cores this process may use."""
    if requested is not None:
        return max(1, requested)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def ignore_sigint() -> None:
    """A forked worker's initialiser: Ctrl-C reaches the whole process group, and the parent
    handles it (terminating its pool), so a worker ignores it rather than print a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def one_blas_thread() -> None:
    """A fitting worker's initialiser: one BLAS thread.  Forked workers inherit the parent's BLAS
    thread pool; on the tiny matrices of a fit its threads only spin against each other (30x
    slower), and the workers already use every core."""
    _one_blas_thread_here()  # for the worker's life: nothing restores it


def _one_blas_thread_here():
    """One BLAS thread from now on; as a context manager, for a block of this process, restored after it."""
    import scipy.optimize  # noqa: F401  scipy's own OpenBLAS must be loaded before it can be limited
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def can_fork() -> bool:
    """Whether jobs may run in forked processes: where the platform has fork and it is safe,
    so not on macOS, whose system libraries may run threads that a fork leaves broken (why
    Python's default there is spawn)."""
    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


_FORKED: list = []  # (fn, jobs, init) of the over_cores calls running: forked workers inherit them


def over_cores(fn: Callable, jobs: Iterable[tuple], n_jobs: int | None = None,
               init: Callable | None = None, portable: bool = False) -> Iterator[tuple[int, Any]]:
    """Yield ``(i, fn(*jobs[i]))`` for every job as it finishes, over up to ``n_jobs`` worker
    processes (default: every core), each running ``init()`` first; here, in order, with one
    core or one job.

    Forked where the platform forks safely: the workers inherit ``fn`` and the jobs, so only
    indices and results are pickled.  The context is fork by name, not the platform's default:
    forkserver (Linux, Python 3.14 on) re-imports the caller's ``__main__`` in every worker,
    which fails in a script without an ``if __name__ == "__main__"`` guard, and pickles the
    ladder to each.  Elsewhere (macOS) ``portable`` jobs (``fn``, ``init`` and the jobs
    picklable) go to spawned workers, as Python runs them there; others run here.  A
    ``multiprocessing.Pool``, whose ``__exit__`` terminates its workers, so Ctrl-C stops at
    once (a ``ProcessPoolExecutor`` waited on idle workers).  With the disk cache off, the
    fits a worker keeps in memory come back with its result (:func:`cache.kept`)."""
    jobs = list(jobs)
    if not jobs:  # e.g. every fit came from the cache: nothing to import scipy or fork for
        return
    # a pool's worker may not start processes of its own: a job that fits over the cores runs here
    n = 1 if multiprocessing.current_process().daemon else min(workers(n_jobs), len(jobs))
    fork = can_fork()
    if n <= 1 or not (fork or portable):
        # fits run here as in a worker, on one BLAS thread: two only spin on their tiny matrices (a
        # serial automatic prediction took 56 s and 85 CPU-s with two, 41 s and 41 CPU-s with one)
        with _one_blas_thread_here() if init is one_blas_thread else nullcontext():
            for i, job in enumerate(jobs):
                yield i, fn(*job)
        return
    if fork:
        if init is one_blas_thread:
            # imported once here, the workers inherit it: each worker of each pool imported it for itself
            # (~0.5 s), and a warm report forks 13 pools whose fits all come from the cache
            import scipy.optimize  # noqa: F401
        _FORKED.append((fn, jobs, init))
        ctx, init_args = multiprocessing.get_context("fork"), ()
    else:
        ctx, init_args = multiprocessing.get_context("spawn"), ((fn, jobs, init),)
    from .cache import kept

    try:
        with ctx.Pool(n, initializer=_forked_init, initargs=init_args) as pool:
            for i, out, new in pool.imap_unordered(_forked_job, range(len(jobs))):
                for k, blob in new:  # what the worker fitted with the disk cache off is not fitted again here
                    kept(k, blob)
                yield i, out
    finally:
        if fork:
            _FORKED.pop()


def fits_over_cores(fn: Callable, jobs: Iterable[tuple], n_jobs: int | None = None,
                    progress: Callable[[], None] | None = None, keys: Iterable[str] | None = None) -> list:
    """``[fn(*job) for job in jobs]`` for fits, over the cores (:func:`over_cores`, one BLAS thread
    per worker), and what that loop would have said: each job's warnings are issued here, in job
    order, and the first job that fails (in that order) raises its :class:`TaskladderError` after the
    warnings of the jobs before it.  ``progress()`` is called as each job ends.

    ``keys``: the cache key under which ``fn`` keeps each job's result (:func:`cache.cached`).  The
    jobs already cached are read here and only the others go to workers: a pool's workers start in
    ~0.1 s each, and a warm report, whose 13 pools' fits all came from the cache, spent 1.1 s of its
    3.1 s starting them.  A cached fit warns no more in a worker than here."""
    import warnings

    jobs = list(jobs)
    done: list = [None] * len(jobs)
    if keys is not None:
        from .cache import recall

        for i, k in enumerate(keys):
            hit = recall(k)
            if hit is not None:
                done[i] = (hit, [], None)
                if progress is not None:
                    progress()
    todo = [i for i, d in enumerate(done) if d is None]
    for j, out in over_cores(_recording, [(fn, *jobs[i]) for i in todo], n_jobs, init=one_blas_thread,
                             portable=True):
        done[todo[j]] = out
        if progress is not None:
            progress()
    for _, said, error in done:
        for w in said:
            warnings.warn(w, stacklevel=2)
        if error is not None:
            raise error
    return [value for value, _, _ in done]


def _recording(fn: Callable, *args) -> tuple:
    """One job of :func:`fits_over_cores`: (its value or None, its warnings, its error or None)."""
    import warnings

    from .errors import TaskladderError

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")  # every warning goes back; the caller's filters decide
        try:
            return fn(*args), [w.message for w in said], None
        except TaskladderError as e:
            return None, [w.message for w in said], e


def _forked_init(spawned: tuple | None = None) -> None:
    if spawned is not None:  # a spawned worker is handed what a forked one inherits
        _FORKED.append(spawned)
    ignore_sigint()
    init = _FORKED[-1][2]
    if init is not None:
        init()


def _forked_job(i: int) -> tuple[int, Any, list]:
    """Job ``i`` in a worker: its index, its value and the entries it kept in memory (the disk cache off)."""
    from .cache import new_entries

    fn, jobs, _ = _FORKED[-1]
    with new_entries() as new:
        return i, fn(*jobs[i]), new


def _state(setup: Callable | None, args: tuple):
    return setup(*args) if setup is not None else args


def _init(setup: Callable | None, args: tuple, queue) -> None:
    import torch

    torch.set_num_threads(1)
    _STATE["queue"] = queue
    _STATE["state"] = _state(setup, args)


def report(message) -> None:
    """From inside a job: send ``message`` to the parent's ``on_message``."""
    if _STATE.get("queue") is not None:
        _STATE["queue"].put(message)
    elif _STATE.get("local") is not None:
        _STATE["local"](message)


def run_jobs(fn: Callable, items: Iterable, setup: Callable | None, setup_args: tuple = (), n_workers: int = 2,
             on_message: Callable | None = None) -> Iterator[tuple[Any, Any]]:
    """Yield ``(item, fn(state, item))`` as each job finishes, ``state = setup(*setup_args)``
    made once per worker (``setup`` None: ``state = setup_args``).  ``fn`` and ``setup`` must be importable module-level functions.
    With one worker everything runs here, in this process and thread count; a single job
    of a multi-worker call runs here too, on one thread, as a worker would run it (so the
    numbers do not depend on how many jobs there were)."""
    items = list(items)
    if n_workers <= 1 or len(items) <= 1:
        import torch

        threads = torch.get_num_threads()
        if n_workers > 1:
            torch.set_num_threads(1)
        try:
            state = _state(setup, setup_args)
            _STATE.update(queue=None, local=on_message)
            for it in items:
                yield it, fn(state, it)
        finally:
            torch.set_num_threads(threads)
        return
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    with ctx.Pool(min(n_workers, len(items)), initializer=_init, initargs=(setup, setup_args, queue)) as pool:
        results = pool.imap_unordered(_indexed, [(fn, (k, it)) for k, it in enumerate(items)])
        left = len(items)
        while left:
            try:
                k, out = results.next(timeout=0.2)
            except multiprocessing.TimeoutError:
                k = None
            _drain(queue, on_message)
            if k is not None:
                left -= 1
                yield items[k], out
        # a worker's queue is flushed by a feeder thread, so its last messages can arrive after
        # its result: the workers exit (flushing it) before the queue is read a last time
        pool.close()
        pool.join()
        _drain(queue, on_message)


def _drain(queue, on_message) -> None:
    import queue as queue_mod

    while True:
        try:
            msg = queue.get_nowait()
        except queue_mod.Empty:
            return
        if on_message is not None:
            on_message(msg)


def _indexed(job):
    fn, (k, item) = job
    return k, fn(_STATE["state"], item)
