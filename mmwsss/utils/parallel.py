"""Process-pool map with a progress bar, for per-image CPU jobs (dense CRF,
pseudo-label export, affinity labels)."""
import multiprocessing as mp
import os
from typing import Callable, Iterable, Iterator, Optional, TypeVar

__all__ = ['imap_pool']

T = TypeVar('T')
R = TypeVar('R')


def _init_worker(threads: int) -> None:
    # one job per process: keep BLAS / OpenMP from oversubscribing (torch is
    # not touched: its thread pool may not survive a fork)
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
        os.environ[var] = str(threads)
    try:
        import cv2
        cv2.setNumThreads(threads)
    except Exception:  # pragma: no cover - optional
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
    pool is terminated.

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
        if start_method is None:
            start_method = ('forkserver' if 'forkserver' in
                            mp.get_all_start_methods() else 'spawn')
        ctx = mp.get_context(start_method)
        if start_method == 'forkserver':
            # the server imports mmwsss (torch, mmseg, cv2) once; workers
            # forked from it start in well under a second and have no
            # running thread pools
            ctx.set_forkserver_preload(['mmwsss'])
        pool = ctx.Pool(workers, initializer=_init_worker, initargs=(1, ))
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
