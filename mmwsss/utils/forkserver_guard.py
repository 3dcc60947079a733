"""Imported by the forkserver of :func:`mmwsss.utils.parallel.imap_pool`
(a preload module, only when the pool is started from the main thread):
the kernel kills the forkserver when its parent ends, and with it the pool
workers it forked. Importing this module anywhere else does nothing."""
from .parallel import guard_forkserver

__all__: list = []

guard_forkserver()
