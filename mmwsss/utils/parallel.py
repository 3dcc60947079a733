"""Process-pool map with a progress bar, for per-image CPU jobs (dense CRF,
pseudo-label export, affinity labels), and worker processes that die with
their parent.

Worker lifetime: a worker process must not outlive the process that uses
it. Without help it can: after ``kill -9`` of the parent, a torch
DataLoader worker only looks at its parent between items (a read that
hangs keeps it forever) and can deadlock at exit on a result pipe that it
keeps open itself; a :func:`imap_pool` worker finishes its item first, and
the forkserver stays while any of its children lives.
:func:`exit_with_parent` ties a worker's life to its parent's:

* Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker
  when its parent ends, whatever the worker is doing. The signal follows
  the parent *thread* that forked the worker, so it is used only where that
  thread is a main thread (or a forkserver, which is single-threaded).
* Otherwise, and for a forkserver's child (its parent is the forkserver,
  not the process that asked for it), a daemon thread checks every second
  that the owner process still runs (start time from ``/proc``, so neither
  a zombie nor a reused pid counts) and kills the worker when it does not.

:func:`imap_pool` guards its workers and its forkserver (started from the
main thread, the forkserver gets the signal too, so that a killed parent
takes the whole tree down in the kernel). :func:`guard_dataloader_workers`
(installed by ``import mmwsss``, :func:`mmwsss.utils.compat.apply_all`)
guards every torch DataLoader worker of the process.
"""
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import warnings
from typing import Any, Callable, Iterable, Iterator, List, Optional, TypeVar

__all__ = [
    'imap_pool', 'make_pool', 'PersistentPool', 'exit_with_parent',
    'guard_dataloader_workers', 'guard_forkserver'
]

T = TypeVar('T')
R = TypeVar('R')

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

#: whether the thread that made this process's latest ``os.fork()`` was a
#: main thread (set in the parent, read by the child); None: not known here
_forked_by_main_thread: Optional[bool] = None

#: ``(pid, mode)`` of the process where :func:`exit_with_parent` ran
_guarded: Optional[tuple] = None

#: torch's DataLoader worker loop, wrapped by :func:`_guarded_worker_loop`
_torch_worker_loop: Optional[Callable] = None


def _note_forking_thread() -> None:
    global _forked_by_main_thread
    _forked_by_main_thread = (
        threading.current_thread() is threading.main_thread())


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(before=_note_forking_thread)


def _set_pdeathsig(sig: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, sig)``; False where unavailable."""
    if not sys.platform.startswith('linux'):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        ok = prctl(
            ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(int(sig)),
            ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0
    except (OSError, AttributeError, TypeError):
        return False
    return ok


def _proc_stat(pid: int) -> Optional[List[bytes]]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state
    first), or None."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            raw = f.read()
    except OSError:
        return None
    return raw[raw.rfind(b')') + 2:].split()


def _start_time(pid: int) -> Optional[bytes]:
    """Start time of ``pid`` (``/proc``), None when unknown."""
    fields = _proc_stat(pid)
    return None if fields is None else fields[19]


def _pid_alive(pid: int, start: Optional[bytes] = None) -> bool:
    """Whether ``pid`` runs: not a zombie and, with ``start``, the same
    process (not a new one reusing the pid). Without ``/proc``:
    ``kill(pid, 0)``."""
    fields = _proc_stat(pid)
    if fields is not None:
        return fields[0] not in (b'Z', b'X', b'x') and (start is None
                                                        or fields[19] == start)
    if os.path.isdir('/proc/self'):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die(sig: int) -> None:
    """End this process with ``sig`` (``os._exit`` if it survives it)."""
    try:
        os.kill(os.getpid(), sig)
        time.sleep(0.5)
    finally:
        os._exit(128 + int(sig))


def _watch(owner_pid: int, owner_start: Optional[bytes],
           parent_pid: Optional[int], sig: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if not _pid_alive(owner_pid, owner_start) or (
                parent_pid is not None and os.getppid() != parent_pid):
            _die(sig)


def exit_with_parent(owner_pid: Optional[int] = None,
                     sig: int = signal.SIGKILL,
                     interval: float = 1.0,
                     pdeathsig: Optional[bool] = None) -> str:
    """End this (worker) process when the process that started it ends.

    Call it first thing in a worker. The worker is killed with ``sig``:
    by the kernel at its parent's death (Linux ``PR_SET_PDEATHSIG``), else
    by a daemon thread that checks the owner every ``interval`` seconds
    (it can be late by as long as a C call that holds the GIL). If the
    owner is already gone, the worker ends at once. Idempotent in a
    process (a forked child has to call it again).

    Args:
        owner_pid (int, optional): The process whose death ends this one.
            Defaults to the process that started this one
            (``multiprocessing.parent_process()``: for a forkserver's
            child, the process that asked the forkserver), else the
            parent.
        sig (int): The signal. Defaults to ``SIGKILL`` (a worker's exit
            path can block: nothing is cleaned up that the kernel does not
            clean up anyway).
        interval (float): Seconds between two checks of the thread.
            Defaults to 1.0.
        pdeathsig (bool, optional): Whether the kernel signal may be used.
            It fires when the parent *thread* that forked this process
            ends, so None (default) uses it only when that thread was a
            main thread (known for ``os.fork`` from a process that imported
            this module) or the parent is a forkserver (not the owner).

    Returns:
        str: ``'pdeathsig'``, ``'pdeathsig+watcher'`` or ``'watcher'``:
        what detects the owner's death.
    """
    global _guarded
    if _guarded is not None and _guarded[0] == os.getpid():
        return _guarded[1]
    if owner_pid is None:
        parent = mp.parent_process()
        owner_pid = parent.pid if parent is not None else os.getppid()
    owner_start = _start_time(owner_pid)
    parent_pid = os.getppid()
    direct = parent_pid == owner_pid
    if pdeathsig is None:
        pdeathsig = not direct or _forked_by_main_thread is True
    armed = bool(pdeathsig) and _set_pdeathsig(sig)
    # the owner may have ended before the signal was armed
    if not _pid_alive(owner_pid, owner_start) or (direct and
                                                  os.getppid() != owner_pid):
        _die(sig)
    if armed and direct:
        mode = 'pdeathsig'
    else:
        threading.Thread(
            target=_watch,
            args=(owner_pid, owner_start, parent_pid if direct else None,
                  sig, interval),
            name='mmwsss-exit-with-parent',
            daemon=True).start()
        mode = 'pdeathsig+watcher' if armed else 'watcher'
    _guarded = (os.getpid(), mode)
    return mode


def _in_forkserver_main() -> bool:
    """Whether this code runs inside ``multiprocessing.forkserver.main``
    (the forkserver importing its preload modules)."""
    try:
        from multiprocessing import forkserver
        code = forkserver.main.__code__
    except (ImportError, AttributeError):  # pragma: no cover
        return False
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def guard_forkserver() -> bool:
    """In a forkserver (called while it imports its preload modules), ask
    the kernel to kill it with its parent. Its children's signal, armed by
    :func:`exit_with_parent`, then ends them too, GIL or not. Does nothing
    elsewhere. Returns True when armed."""
    return _in_forkserver_main() and _set_pdeathsig(signal.SIGKILL)


def _guarded_worker_loop(*args: Any, **kwargs: Any) -> Any:
    """torch's DataLoader worker loop, after :func:`exit_with_parent`."""
    try:
        exit_with_parent()
    except Exception as e:  # pragma: no cover - never stop the loader
        warnings.warn(f'DataLoader worker not tied to its parent: {e!r}')
    loop = _torch_worker_loop
    if loop is None:  # spawned worker: unpickled before the guard ran
        guard_dataloader_workers()
        loop = _torch_worker_loop
    return loop(*args, **kwargs)  # type: ignore[misc]


def guard_dataloader_workers() -> bool:
    """Make every torch DataLoader worker started by this process call
    :func:`exit_with_parent` first: torch's own check (``os.getppid()``
    between items, every 5 s when idle) misses a worker stuck in
    ``__getitem__``, and a worker whose results fill the result pipe
    deadlocks at exit (its queue feeder thread writes to a pipe whose
    only reader left is the worker itself). Wraps
    ``torch.utils.data._utils.worker._worker_loop`` (looked up by
    torch each time it starts a worker). Idempotent.

    Returns:
        bool: Whether the workers are guarded.
    """
    global _torch_worker_loop
    try:
        from torch.utils.data._utils import worker
    except ImportError:  # pragma: no cover
        return False
    loop = getattr(worker, '_worker_loop', None)
    if loop is _guarded_worker_loop:
        return True
    if not callable(loop):  # pragma: no cover - another torch layout
        return False
    _torch_worker_loop = loop
    worker._worker_loop = _guarded_worker_loop
    return True


def _init_worker(threads: int,
                 owner_pid: Optional[int] = None,
                 pdeathsig: Optional[bool] = None) -> None:
    if owner_pid is not None:
        exit_with_parent(owner_pid, pdeathsig=pdeathsig)
    # one job per process: keep BLAS / OpenMP from oversubscribing (torch is
    # not touched: its thread pool may not survive a fork)
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
        os.environ[var] = str(threads)
    try:
        import cv2
        cv2.setNumThreads(threads)
    except Exception:  # pragma: no cover - optional
        pass


def make_pool(workers: int, start_method: Optional[str] = None):
    """A ``multiprocessing`` pool of ``workers`` one-thread processes that
    die with this process (:func:`exit_with_parent`).

    Args:
        workers (int): Number of processes (>= 1).
        start_method (str, optional): See :func:`imap_pool`.

    Returns:
        multiprocessing.pool.Pool: The pool (the caller closes it).
    """
    if start_method is None:
        start_method = ('forkserver'
                        if 'forkserver' in mp.get_all_start_methods() else
                        'spawn')
    ctx = mp.get_context(start_method)
    main_thread = threading.current_thread() is threading.main_thread()
    if start_method == 'forkserver':
        # the server imports mmwsss (torch, mmseg, cv2) once; workers
        # forked from it start in well under a second and have no
        # running thread pools. Started from the main thread, it also
        # dies with this process (guard_forkserver).
        preload = ['mmwsss']
        if main_thread:
            preload.append('mmwsss.utils.forkserver_guard')
        ctx.set_forkserver_preload(preload)
    # every worker dies with this process (exit_with_parent); spawned
    # ones are told whether their parent thread is a main thread
    pdeathsig = True if start_method == 'spawn' and main_thread else None
    return ctx.Pool(
        workers,
        initializer=_init_worker,
        initargs=(1, os.getpid(), pdeathsig))


class PersistentPool:
    """A process pool kept open across calls (e.g. by a model that runs
    CPU jobs at every training iteration), started on first use.

    Its workers die with the process that uses it (:func:`make_pool`).
    The pool is not copied: a deep copy or pickle of the owner (EMA,
    DDP, checkpoints) gets a closed one that starts its own pool when
    used; a forked child does the same.

    Args:
        workers (int): Number of processes; 0 or 1 runs the jobs in this
            process.
        start_method (str, optional): See :func:`imap_pool`.
    """

    def __init__(self,
                 workers: int,
                 start_method: Optional[str] = None) -> None:
        self.workers = int(workers)
        self.start_method = start_method
        self._pool = None
        self._pid: Optional[int] = None

    def map(self,
            fn: Callable[[T], R],
            items: Iterable[T],
            chunksize: int = 1) -> List[R]:
        """``list(map(fn, items))`` in the pool, in input order. An
        exception in a worker is re-raised here (the pool stays usable).
        """
        items = list(items)
        if self.workers <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        if self._pool is None or self._pid != os.getpid():
            self._pool = make_pool(self.workers, self.start_method)
            self._pid = os.getpid()
        return self._pool.map(fn, items, chunksize=max(1, chunksize))

    def close(self) -> None:
        """Stop the workers (a later :meth:`map` starts new ones)."""
        pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.terminate()
            pool.join()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_pool'], state['_pid'] = None, None
        return state

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def imap_pool(fn: Callable[[T], R],
              items: Iterable[T],
              workers: int = 0,
              progress: bool = False,
              ordered: bool = True,
              chunksize: int = 1,
              total: Optional[int] = None,
              start_method: Optional[str] = None) -> Iterator[R]:
    """``map(fn, items)`` in worker processes, yielding results lazily.

    With ``workers <= 1`` everything runs in the calling process (no
    pickling). Otherwise ``fn`` and the items must be picklable (a
    module-level function or an object with ``__call__``). Worker processes
    use one thread each. An exception in a worker is re-raised here and the
    pool is terminated. If this process dies (even ``kill -9``), the
    workers and the forkserver end too, within about a second, also in the
    middle of an item (:func:`exit_with_parent`, :func:`guard_forkserver`).

    Args:
        fn (Callable): Function of one item.
        items (Iterable): The items.
        workers (int): Number of processes. Defaults to 0 (in process).
        progress (bool): Show an ``mmengine`` progress bar.
            Defaults to False.
        ordered (bool): Yield in input order (else in completion order).
            Defaults to True.
        chunksize (int): Items sent to a worker at a time. Defaults to 1.
        total (int, optional): Number of items for the progress bar (taken
            from ``len(items)`` when possible).
        start_method (str, optional): ``'forkserver'`` (default where
            available, else ``'spawn'``), ``'spawn'`` or ``'fork'``. Workers
            start from a clean process: a plain ``fork`` of a process whose
            OpenCV / OpenMP / torch thread pools are already running can
            deadlock in the child (measured: ``cv2.setNumThreads`` hung in
            every forked worker after the parent had run ``cv2.Canny``).
            The forkserver imports ``mmwsss`` once per process.

    Yields:
        The results of ``fn``.
    """
    if total is None and hasattr(items, '__len__'):
        total = len(items)  # type: ignore[arg-type]
    bar = None
    if progress and total:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(total)
    try:
        if workers <= 1:
            for item in items:
                yield fn(item)
                if bar is not None:
                    bar.update()
            return
        pool = make_pool(workers, start_method)
        try:
            it = (pool.imap if ordered else pool.imap_unordered)(
                fn, items, chunksize=max(1, chunksize))
            for res in it:
                yield res
                if bar is not None:
                    bar.update()
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    finally:
        if bar is not None:
            print(flush=True)
