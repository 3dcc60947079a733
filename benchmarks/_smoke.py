"""Smoke mode shared by the benchmark scripts (``--smoke``).

A smoke run executes the same code path as a real run of a benchmark (the
same tools, functions and result table) at toy scale -- the camvid_things
benchmarks on a tiny dataset generated into their work dir, with tiny
iteration counts -- in well under 3 minutes on 2 CPU cores. Its numbers are
meaningless; it checks that the benchmark still runs end to end
(``tests/test_benchmarks/test_smoke.py``).
"""
import argparse
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: printed once by every smoke run
SMOKE_NOTE = '(smoke run: numbers are meaningless)'
#: camvid_things has 5 thing classes (+ background)
NUM_CLASSES = 5
#: split sizes and image size (H, W) of the generated set: half a camvid
#: tile (240x180), a few images per split
SPLITS = {'train': 8, 'val': 2, 'test': 3}
SIZE = (90, 120)


def add_smoke_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--smoke`` to a benchmark's parser."""
    parser.add_argument(
        '--smoke',
        action='store_true',
        help='smoke run: the same code path on a tiny generated dataset in '
        'the work dir, tiny iteration counts (numbers are meaningless; '
        'default work dir work_dirs/smoke/<benchmark>, emptied first)')


def work_dir(name: str, given: Optional[str], smoke: bool,
             default: Optional[str]) -> Optional[str]:
    """The work dir of a run (absolute).

    Args:
        name (str): Benchmark name (the folder of the default smoke dir).
        given (str, optional): ``--work-dir`` of the command line; used as
            it is when given.
        smoke (bool): Smoke run: without ``given``, a fresh
            ``work_dirs/smoke/<name>`` (emptied first) instead of
            ``default``, so that no real run's work dir is touched.
        default (str, optional): The work dir of a real run.

    Returns:
        str | None: The work dir (None if ``default`` is None and nothing
        else applies).
    """
    if given:
        return osp.abspath(given)
    if smoke:
        path = osp.join(ROOT, 'work_dirs', 'smoke', name)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path
    return osp.abspath(default) if default else None


def make_data(wd: str,
              splits: Optional[Dict[str, int]] = None,
              size: Tuple[int, int] = SIZE) -> str:
    """Generate the tiny camvid_things-like set (folder layout, 5 classes)
    into ``<wd>/data``.

    Args:
        wd (str): Work dir of the smoke run.
        splits (dict[str, int], optional): Split sizes. Defaults to
            :data:`SPLITS`.
        size (tuple[int, int]): Image size (H, W). Defaults to :data:`SIZE`.

    Returns:
        str: The data root.
    """
    from mmwsss.datasets.testing import make_folder_fixture
    return make_folder_fixture(
        osp.join(wd, 'data'),
        splits=dict(splits or SPLITS),
        num_classes=NUM_CLASSES,
        size=size)


def train_options(batch_size: int = 2) -> List[str]:
    """``--cfg-options`` of a smoke training run: a small batch (the rest
    of the config, loader processes included, as in a real run)."""
    return [f'train_dataloader.batch_size={batch_size}']


def cam_baseline_report(config: str,
                        wd: str,
                        data_root: str,
                        workers: int = 2,
                        batch_size: int = 2,
                        max_iters: int = 2) -> str:
    """The CAM baseline report of a smoke run, made in ``<wd>/baseline`` the
    way ``benchmarks/cam_camvid_things.py`` makes the real one
    (:func:`tools.cam_pipeline.run_cam_pipeline`), for the benchmarks that
    print their results next to it.

    Args:
        config (str): CAM baseline config.
        wd (str): Work dir of the smoke run.
        data_root (str): The generated set (:func:`make_data`).
        workers (int): Loader processes of inference and evaluation.
        batch_size (int): Training batch. Defaults to 2.
        max_iters (int): Training iterations. Defaults to 2.

    Returns:
        str: Path of ``cam_eval_test.json``.
    """
    from tools.cam_pipeline import run_cam_pipeline, step
    step(f'smoke: CAM baseline report ({max_iters} iterations)')
    opts = train_options(batch_size) + log_options(wd) + [
        f'{k}_dataloader.dataset.data_root={data_root}'
        for k in ('train', 'val', 'test')
    ]
    out = osp.join(wd, 'baseline')
    run_cam_pipeline(
        config,
        out,
        split='test',
        max_iters=max_iters,
        workers=workers,
        cfg_options=opts)
    return osp.join(out, 'cam_eval_test.json')


def log_options(wd: str) -> List[str]:
    """``--cfg-options`` that keep the logs of the inference / evaluation
    tools in the smoke work dir (``tools/train.py`` and ``tools/test.py``
    take ``--work-dir`` over this)."""
    return [f'work_dir={osp.join(wd, "tool_logs")}']
