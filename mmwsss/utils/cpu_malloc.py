# Copyright (c) mmwsss contributors. All rights reserved.
"""Keep freed tensor memory in the process on glibc (CPU runs).

glibc serves every allocation above 32 MiB (a CPU activation of a batch of
16, e.g. 16 x 96 x 88 x 88 float32 = 48 MiB) with a fresh ``mmap`` and
returns it with ``munmap`` when the tensor is freed, so each training step
faults all its large buffers in again page by page: on the camvid Puzzle-CAM
run (output stride 8) that was 1.8 M page faults and 3.9 s of system time
per 6.5 s step.
:func:`tune_cpu_malloc` sets three ``mallopt`` parameters (the documented
glibc API): no ``mmap`` for allocations (``M_MMAP_MAX = 0``), no trimming of
the heap (``M_TRIM_THRESHOLD = -1``) and a 512 MiB ``M_TOP_PAD``, so a freed
buffer is reused by the next step. ``benchmarks/cpu_malloc.py`` measures it
(step time, system time, page faults, peak memory, both ways in one run).

The cost is that the process keeps its peak heap until it exits. The tools
apply it on CPU-only machines; ``MMWSSS_TUNE_MALLOC=0`` turns it off, and it
is skipped where the user chose an allocator (``LD_PRELOAD`` of jemalloc /
tcmalloc, ``MALLOC_*`` or ``GLIBC_TUNABLES`` malloc settings).
"""
import ctypes
import os
from typing import Mapping, Optional

__all__ = ['tune_cpu_malloc', 'MALLOPT_SETTINGS']

# mallopt(3) parameter numbers (malloc.h) and the values set
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4
MALLOPT_SETTINGS = (
    (M_MMAP_MAX, 0),  # never serve an allocation with mmap
    (M_TRIM_THRESHOLD, -1),  # -1: never give the heap top back
    (M_TOP_PAD, 512 << 20),  # grow the heap 512 MiB at a time
)
ENV_SWITCH = 'MMWSSS_TUNE_MALLOC'


def _user_chose_allocator(env: Mapping[str, str]) -> bool:
    # jemalloc / tcmalloc preloaded, or glibc malloc set by environment
    return ('malloc' in env.get('LD_PRELOAD', '').lower()
            or 'malloc' in env.get('GLIBC_TUNABLES', '')
            or any(k.startswith('MALLOC_') for k in env))


def tune_cpu_malloc(env: Optional[Mapping[str, str]] = None) -> bool:
    """Set the glibc ``mallopt`` parameters of :data:`MALLOPT_SETTINGS`.

    Affects the allocations made after the call, in this process and in the
    processes it forks (DataLoader workers).

    Args:
        env (Mapping[str, str], optional): The environment to read the
            switches from. Defaults to ``os.environ``.

    Returns:
        bool: True if every parameter was set; False when switched off
        (``MMWSSS_TUNE_MALLOC=0``), when the user chose an allocator, or
        when the C library is not glibc.
    """
    env = os.environ if env is None else env
    if env.get(ENV_SWITCH, '1') == '0' or _user_chose_allocator(env):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only (musl has a no-op mallopt)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in MALLOPT_SETTINGS)
