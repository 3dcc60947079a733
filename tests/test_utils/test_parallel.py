"""imap_pool: in-process and pooled maps, order, error propagation."""
import os

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
