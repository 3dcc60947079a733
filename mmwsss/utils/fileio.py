# Copyright (c) mmwsss contributors. All rights reserved.
"""Atomic file writes: a temp file in the destination folder, then a rename.

:func:`atomic_write` is the one primitive behind every writer of the
package (CAM ``.npz``, label PNGs, JSON reports, dataset lists) and behind
:class:`AtomicLocalBackend`, the MMEngine local file backend that mmwsss
registers so that checkpoints (``iter_N.pth``) are never left truncated
when a training run is killed while saving.
"""
import os
import os.path as osp
from pathlib import Path
from typing import BinaryIO, Callable, Optional, Union

from mmengine.fileio import LocalBackend, register_backend

__all__ = [
    'TMP_TAG', 'tmp_path', 'atomic_write', 'AtomicLocalBackend',
    'register_atomic_local_backend'
]

#: Marker in the temp-file names (``<stem>.<pid>.tmp<ext>``).
TMP_TAG = '.tmp'


def tmp_path(path: str) -> str:
    """Temporary sibling of ``path`` used by :func:`atomic_write`.

    ``out/2007_000032.npz`` -> ``out/2007_000032.<pid>.tmp.npz``; the
    extension is kept so that numpy / PIL do not append another one.

    Args:
        path (str): Final file name.

    Returns:
        str: Temporary file name in the same folder.
    """
    stem, ext = osp.splitext(path)
    return f'{stem}.{os.getpid()}{TMP_TAG}{ext}'


def atomic_write(path: str,
                 write_fn: Callable[[BinaryIO], object],
                 fsync: bool = False) -> None:
    """Write ``path`` through ``write_fn(fileobj)`` into a temp file, then
    rename it over ``path`` (:func:`os.replace`).

    The destination is either its old content or the complete new one;
    an exception removes the temp file (a killed process leaves it, under
    the name of :func:`tmp_path`).

    Args:
        path (str): Destination; its folder is created if needed.
        write_fn (callable): Writes the content into the binary file object.
        fsync (bool): fsync the temp file before the rename (survives a
            power loss, slower). Defaults to False.
    """
    path = str(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = tmp_path(path)
    try:
        with open(tmp, 'wb') as f:
            write_fn(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend with atomic, fsynced writes.

    MMEngine writes checkpoints with ``open(path, 'wb').write(...)``; a run
    killed during the write leaves a truncated ``iter_N.pth``. ``put`` and
    ``put_text`` here go through :func:`atomic_write` instead. Reading,
    listing and removing are MMEngine's.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically (folder created)."""
        atomic_write(str(filepath), lambda f: f.write(obj), fsync=True)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: Optional[str] = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (folder created)."""
        data = obj.encode(encoding or 'utf-8')
        atomic_write(str(filepath), lambda f: f.write(data), fsync=True)


def register_atomic_local_backend() -> None:
    """Make :class:`AtomicLocalBackend` MMEngine's backend for local paths
    (backend name ``local``, empty prefix). Idempotent."""
    from mmengine.fileio.backends import backends
    if backends.get('local') is AtomicLocalBackend:
        return
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
