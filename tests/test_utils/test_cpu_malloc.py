"""tune_cpu_malloc: a freed large tensor's memory is reused by the next
allocation instead of being mapped (and faulted in page by page) again."""
import os
import resource
import subprocess
import sys

import pytest

from mmwsss.utils import tune_cpu_malloc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
MIB = 1 << 20
# 48 MiB: above glibc's largest mmap threshold (32 MiB), so without the
# tuning every allocation of this size is a fresh mapping
SIZE = 48 * MIB
ROUNDS = 8

PROBE = f"""
import resource, sys
import torch
from mmwsss.utils import tune_cpu_malloc
tuned = tune_cpu_malloc() if sys.argv[1] == '1' else False
torch.empty({SIZE} // 4).fill_(1.0)  # the first one grows the heap
faults = []
for _ in range({ROUNDS}):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.empty({SIZE} // 4)
    x.fill_(1.0)
    del x
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(tuned, *faults)
"""


def _probe(tune: bool) -> tuple:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith('MALLOC_') and k != 'MMWSSS_TUNE_MALLOC'
    }
    env['OMP_NUM_THREADS'] = '1'
    out = subprocess.run([sys.executable, '-c', PROBE, '1' if tune else '0'],
                         cwd=ROOT,
                         env=env,
                         capture_output=True,
                         text=True,
                         check=True).stdout.split()
    return out[0] == 'True', [int(f) for f in out[1:]]


@pytest.mark.skipif(
    not sys.platform.startswith('linux'), reason='glibc malloc')
def test_freed_tensor_memory_is_reused():
    pages = SIZE // resource.getpagesize()
    tuned, faults = _probe(False)
    assert not tuned
    # glibc default: every round maps the 48 MiB again, touching each page
    assert all(f >= 0.9 * pages for f in faults), (faults, pages)
    tuned, faults = _probe(True)
    assert tuned
    # tuned: the rounds reuse freed heap memory; a round may land beyond a
    # small allocation made in between and fault fresh pages once
    refaulted = [f for f in faults if f > 0.02 * pages]
    assert len(refaulted) <= 2, (faults, pages)


def test_switches():
    # off by the switch, or where the user chose an allocator: nothing set
    assert not tune_cpu_malloc({'MMWSSS_TUNE_MALLOC': '0'})
    assert not tune_cpu_malloc({'MALLOC_ARENA_MAX': '2'})
    assert not tune_cpu_malloc({'LD_PRELOAD': '/usr/lib/libjemalloc.so.2'})
    assert not tune_cpu_malloc(
        {'GLIBC_TUNABLES': 'glibc.malloc.trim_threshold=0'})
