"""Running the repository's tools, for the tests: in a subprocess
(:func:`run_repo`) or in process as the command line would
(:func:`tool_error`); a benchmark script as a module
(:func:`load_benchmark`)."""
import contextlib
import importlib.util
import io
import os
import os.path as osp
import subprocess
from typing import Callable, Dict, Optional, Sequence

__all__ = ['ROOT', 'run_repo', 'tool_error', 'load_benchmark']

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_repo(cmd: Sequence[str],
             ok: bool = True,
             timeout: float = 900,
             threads: int = 1,
             cwd: str = ROOT,
             env: Optional[Dict[str, str]] = None,
             drop_env: Sequence[str] = ()) -> str:
    """Run ``cmd`` with the repository on ``PYTHONPATH`` and ``threads``
    torch threads; assert that it succeeds (or, with ``ok=False``, that it
    fails) and return stdout + stderr.

    Args:
        cmd (Sequence[str]): The command.
        ok (bool): Whether it must succeed. Defaults to True.
        timeout (float): Seconds. Defaults to 900.
        threads (int): ``OMP_NUM_THREADS``. Defaults to 1.
        cwd (str): Working directory. Defaults to the repository root.
        env (dict, optional): Environment instead of ``os.environ``.
        drop_env (Sequence[str]): Variables removed from the environment.

    Returns:
        str: stdout + stderr.
    """
    env = dict(
        env or os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS=str(threads))
    for key in drop_env:
        env.pop(key, None)
    res = subprocess.run(
        list(cmd),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    out = res.stdout + res.stderr
    assert (res.returncode == 0) == ok, out[-6000:]
    return out


def tool_error(main: Callable, argv: Sequence[str]) -> str:
    """Run a tool's ``main(argv)`` as its script does
    (``tools.cli_helpers.cli_run``); assert that it stops with exit status
    2 and one ``error: ...`` line on stderr, and return that line."""
    from tools.cli_helpers import cli_run
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli_run(main, list(argv))
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    assert code == 2, (code, err.getvalue()[-3000:])
    assert lines and lines[-1].startswith('error: '), err.getvalue()[-3000:]
    return lines[-1]


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` imported as a module (the folder is not a
    package on the tests' path)."""
    path = osp.join(ROOT, 'benchmarks', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_bench_{name}', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
