"""Run the CAM stages with the standard tools: train -> CAMs -> sweep.

Used by ``tools/demo.py`` and the benchmark scripts, so that both run
exactly the commands a user types (each tool in its own process).
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

__all__ = [
    'step', 'run_tool', 'run_cam_pipeline', 'prior_only_miou',
    'write_cam_overlays'
]

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def step(title: str) -> None:
    print(f'\n===== {title} =====', flush=True)


def run_tool(args: Sequence[str]) -> None:
    """Run a tool like a user (repo on ``PYTHONPATH``); its failure ends
    this process with the tool's exit status."""
    env = dict(
        os.environ,
        PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    print('$ ' + ' '.join(args), flush=True)
    code = subprocess.run([sys.executable] + list(args),
                          cwd=REPO_ROOT,
                          env=env).returncode
    if code:  # the tool printed its own error line
        raise SystemExit(code)


def run_cam_pipeline(config: str,
                     work_dir: str,
                     split: str = 'test',
                     max_iters: Optional[int] = None,
                     workers: int = 2,
                     batch_size: int = 8,
                     cfg_options: Optional[List[str]] = None,
                     eval_args: Sequence[str] = ()) -> Dict:
    """Train a CAM config, write multi-scale CAMs of a split, sweep them.

    Training is skipped when the final checkpoint exists and resumed when an
    earlier run stopped midway; CAM inference skips finished images.

    Args:
        config (str): CAM classifier config.
        work_dir (str): Work dir (checkpoints, ``cams_<split>/``, report).
        split (str): ``'train'``, ``'val'`` or ``'test'`` dataloader of the
            config to evaluate. Defaults to ``'test'``.
        max_iters (int, optional): Override ``train_cfg.max_iters``.
        workers (int): Loader processes of inference and evaluation.
        batch_size (int): Images per CAM-inference forward.
        cfg_options (list[str], optional): Extra ``key=value`` overrides.
        eval_args (Sequence[str]): Extra arguments of
            ``tools/cam/eval_cams.py`` (e.g. ``['--thr-end', '0.95']``).

    Returns:
        dict: ``summary`` (the eval JSON), ``checkpoint``, ``cam_dir``,
        ``seconds`` per stage.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    max_iters = max_iters or cfg.train_cfg.max_iters
    os.makedirs(work_dir, exist_ok=True)
    seconds = {}
    opts = [
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters + 1}',  # evaluated below
        f'param_scheduler.0.end={max_iters + 1}',
        f'default_hooks.checkpoint.interval={max(max_iters // 3, 1)}',
    ] + list(cfg_options or [])

    ckpt = osp.join(work_dir, f'iter_{max_iters}.pth')
    t = time.time()
    if osp.isfile(ckpt):
        step(f'training: done already ({ckpt})')
    else:
        step(f'training the CAM classifier ({max_iters} iterations)')
        cmd = [
            'tools/train.py', config, '--work-dir', work_dir, '--cfg-options'
        ] + opts
        if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
            cmd.append('--resume')
        run_tool(cmd)
    seconds['train'] = time.time() - t

    cam_dir = osp.join(work_dir, f'cams_{split}')
    extra = ['--cfg-options'] + list(cfg_options) if cfg_options else []
    t = time.time()
    step(f'multi-scale x flip CAM inference on the {split} split')
    run_tool([
        'tools/cam/infer_cams.py', config, ckpt, '--dataset', split,
        '--out-dir', cam_dir, '--workers',
        str(workers), '--batch-size',
        str(batch_size)
    ] + extra)
    seconds['infer'] = time.time() - t

    t = time.time()
    step(f'CAM evaluation (background-threshold sweep, {split} split)')
    report = osp.join(work_dir, f'cam_eval_{split}.json')
    run_tool([
        'tools/cam/eval_cams.py', config, '--dataset', split, '--cam-dir',
        cam_dir, '--out', report, '--workers',
        str(workers)
    ] + list(eval_args) + extra)
    seconds['eval'] = time.time() - t
    with open(report) as f:
        summary = json.load(f)
    return dict(
        summary=summary, checkpoint=ckpt, cam_dir=cam_dir, seconds=seconds)


def prior_only_miou(dataset) -> float:
    """mIoU (fraction) of predicting background everywhere."""
    from mmwsss.evaluation import confusion_to_metrics, label_confusion
    from mmwsss.utils.fileio import read_label_png
    num_classes = len(dataset.metainfo['classes'])
    conf = 0
    for i in range(len(dataset)):
        gt = read_label_png(
            dataset.get_data_info(i)['seg_map_path'], 'GT mask')
        conf = conf + label_confusion(np.zeros_like(gt), gt,
                                      num_classes).numpy()
    return float(confusion_to_metrics(conf)['mIoU'])


def write_cam_overlays(dataset, cam_dir: str, out_dir: str, thr: float,
                       num: int) -> List[str]:
    """Write CAM panels (image, per-class overlays, prediction, GT)."""
    from PIL import Image

    from mmwsss.utils.cam_ops import label_from_maps
    from mmwsss.utils.fileio import load_cam, load_rgb, read_label_png
    from mmwsss.visualization import cam_panel
    meta = dataset.metainfo
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for i in range(min(num, len(dataset))):
        info = dataset.get_data_info(i)
        cam = load_cam(osp.join(cam_dir, info['img_id'] + '.npz'))
        hr = cam['hr_cam'].astype(np.float32)
        pred = label_from_maps(
            torch.from_numpy(hr), torch.from_numpy(cam['keys']), thr).numpy()
        gt = read_label_png(info['seg_map_path'], 'GT mask') \
            if info.get('seg_map_path') else None
        panel = cam_panel(
            load_rgb(info['img_path']),
            hr,
            cam['keys'],
            meta['classes'],
            pred=pred,
            gt=gt,
            palette=meta['palette'])
        path = osp.join(out_dir, info['img_id'] + '.png')
        Image.fromarray(panel).save(path)
        written.append(path)
    return written
