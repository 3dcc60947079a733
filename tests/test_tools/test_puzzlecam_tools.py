"""tools/train.py trains the synthetic Puzzle-CAM config (alpha ramp and the
three losses in the log), and the CAM tools (tools/cam/infer_cams.py,
tools/cam/eval_cams.py) work unchanged on its checkpoint."""
import glob
import json
import os.path as osp
import re
import sys

import numpy as np
# the tiny synthetic config and the subprocess helper of the CAM tool tests
from test_train_test_tools import ROOT, TINY_CFG, _run

PUZZLE_CFG = osp.join(
    ROOT, 'configs', 'puzzlecam',
    'puzzlecam_effnet-lite0_1xb16-600it_synthetic-112x112.py')


def test_puzzlecam_train_then_cam_tools(tmp_path):
    cfg = tmp_path / 'tiny_puzzlecam.py'
    # crop 48 (not a multiple of 32): the config's 'pad' mode pads to 64
    cfg.write_text(
        TINY_CFG.format(base=PUZZLE_CFG, root=str(tmp_path / 'data')))
    cfg = str(cfg)
    wd = str(tmp_path / 'wd')
    py = sys.executable
    out = _run([
        py, 'tools/train.py', cfg, '--work-dir', wd, '--cfg-options',
        'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2',
        'param_scheduler.0.end=3'
    ])
    # T = 2, ramp over the first half: alpha 0 at iteration 0, 4 at 1
    logs = re.findall(r'Iter\(train\) \[(\d)/2\].*', out)
    assert logs == ['1', '2'], out[-3000:]
    lines = re.findall(r'Iter\(train\) \[\d/2\].*', out)
    for key in ('loss_cls', 'loss_pcl', 'loss_re', 're_raw'):
        assert all(f'{key}: ' in line for line in lines), (key, lines)
    alphas = [
        float(re.search(r'alpha: ([\d.]+)', line).group(1)) for line in lines
    ]
    assert alphas == [0.0, 4.0], lines
    ckpt = osp.join(wd, 'iter_2.pth')
    assert osp.isfile(ckpt)

    cams = str(tmp_path / 'cams')
    _run([
        py, 'tools/cam/infer_cams.py', cfg, ckpt, '--dataset', 'test',
        '--out-dir', cams, '--workers', '0', '--scales',
        '1.0', '0.5'
    ])
    files = sorted(glob.glob(osp.join(cams, '*.npz')))
    assert len(files) == 3
    with np.load(files[0]) as f:
        assert f['keys'][0] == 0 and f['hr_cam'].shape[1:] == (48, 64)
    report = str(tmp_path / 'eval.json')
    _run([
        py, 'tools/cam/eval_cams.py', cfg, '--dataset', 'test', '--cam-dir',
        cams, '--out', report, '--workers', '0'
    ])
    with open(report) as f:
        summary = json.load(f)
    assert 0.0 <= summary['mIoU'] <= 1.0
