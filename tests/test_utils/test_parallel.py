"""imap_pool: in-process and pooled maps, order, error propagation."""
import os
import subprocess
import sys
import textwrap

import pytest

from mmwsss.utils import imap_pool


def _square(x):
    return x * x


def _pid(_):
    return os.getpid()


def _fail_on_three(x):
    if x == 3:
        raise ValueError('bad item 3')
    return x


def test_imap_pool_order_and_processes():
    items = list(range(20))
    assert list(imap_pool(_square, items)) == [i * i for i in items]
    assert list(imap_pool(_square, items, workers=2)) == [i * i for i in items]
    assert sorted(imap_pool(_square, items, workers=2, ordered=False)) == \
        sorted(i * i for i in items)
    assert set(imap_pool(_pid, range(4))) == {os.getpid()}
    assert os.getpid() not in set(imap_pool(_pid, range(8), workers=2))


@pytest.mark.parametrize('workers', [0, 2])
def test_imap_pool_reraises(workers):
    with pytest.raises(ValueError, match='bad item 3'):
        list(imap_pool(_fail_on_three, range(6), workers=workers))


def test_imap_pool_after_parent_used_opencv_threads():
    """Regression: with a plain fork, workers hung in ``cv2.setNumThreads``
    once the parent had used OpenCV's thread pool. Run in a subprocess with
    a timeout so a hang fails instead of blocking the suite."""
    code = textwrap.dedent("""
        import cv2, numpy as np
        from mmwsss.utils import imap_pool
        cv2.setNumThreads(2)
        img = (np.random.RandomState(0).rand(512, 512) * 255).astype('uint8')
        for _ in range(3):
            cv2.Canny(cv2.GaussianBlur(img, (5, 5), 0), 10, 100)
        out = list(imap_pool(abs, range(-6, 0), workers=2))
        assert out == [6, 5, 4, 3, 2, 1], out
        print('ok')
    """)
    res = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == 'ok', res.stderr


def test_persistent_pool_keeps_its_workers_and_is_not_copied():
    import copy
    import pickle

    from mmwsss.utils.parallel import PersistentPool
    pool = PersistentPool(2)
    try:
        assert pool.map(_square, range(7)) == [i * i for i in range(7)]
        # the same (at most 2) processes serve every call: a pool made
        # anew per call would show new pids (one call may see only one
        # worker on a busy machine, so the union over calls is checked)
        seen = set()
        for _ in range(4):
            seen |= set(pool.map(_pid, range(8)))
        assert os.getpid() not in seen and 1 <= len(seen) <= 2
        with pytest.raises(ValueError, match='bad item 3'):
            pool.map(_fail_on_three, range(6))
        assert pool.map(_square, range(4)) == [0, 1, 4, 9]  # still usable
        for clone in (copy.deepcopy(pool), pickle.loads(pickle.dumps(pool))):
            assert clone._pool is None and clone.workers == 2
    finally:
        pool.close()
    assert pool._pool is None
    # after close, a new call starts new workers
    try:
        assert not set(pool.map(_pid, range(4))) & seen
    finally:
        pool.close()
    # 0 or 1 worker: in this process
    assert set(PersistentPool(0).map(_pid, range(3))) == {os.getpid()}
