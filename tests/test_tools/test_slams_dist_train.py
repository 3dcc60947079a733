"""``tools/dist_train.sh configs/slams_r50_voc.py 2``: two CPU processes
(gloo) train the SLAMs-like (reconstruction) stage-2 alias on a generated
VOC fixture, with the stage-1 checkpoint of a 2-iteration
``tools/train.py configs/slams-encoder_r50_voc.py`` run.

Only sizes are overridden: no pretrained weights, stage-1 crop 64, stage-2
long side 64-96 and crop 64, encoder input 64, batch 2 per process, 2
iterations. Everything else (ResNet-50 encoder and DeepLabV3+ network, the
frozen encoder loaded from its checkpoint, the five losses with one batched
encoder call, the four-group optimiser, DDP) is the real config; every JSON
log record and the saved config say method_status 'reconstruction'."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import torch
from mmengine import Config

from mmwsss.datasets.testing import make_voc_fixture

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1 = 'configs/slams-encoder_r50_voc.py'
STAGE2 = 'configs/slams_r50_voc.py'
ITERS = 2


def _common(root):
    opts = [
        'model.backbone.init_cfg=None',
        'train_dataloader.batch_size=2',
        f'train_cfg.max_iters={ITERS}',
        f'train_cfg.val_interval={ITERS + 1}',
        f'param_scheduler.0.end={ITERS + 1}',
        f'default_hooks.checkpoint.interval={ITERS}',
        'default_hooks.logger.interval=1',
        f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
    ]
    return opts


def _run(cmd, env):
    res = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    return out


def _records(wd):
    logs = glob.glob(osp.join(wd, '*', 'vis_data', '2*.json'))
    assert logs, wd
    with open(logs[0]) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_dist_train_slams_alias_two_cpu_processes(tmp_path):
    root = str(tmp_path / 'VOC2012')
    make_voc_fixture(root, n=10, size=(64, 80), seed=2)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', PORT='29537')
    env.pop('MASTER_PORT', None)
    wd1, wd2 = str(tmp_path / 'stage1'), str(tmp_path / 'stage2')
    _run([
        sys.executable, 'tools/train.py', STAGE1, '--work-dir', wd1,
        '--cfg-options', 'train_dataloader.dataset.pipeline.1.scale=64',
        'model.data_preprocessor.size=(64,64)', *_common(root)
    ], env)
    ckpt1 = osp.join(wd1, f'iter_{ITERS}.pth')
    assert osp.isfile(ckpt1)
    out = _run([
        'env', f'PYTHON={sys.executable}', 'bash', 'tools/dist_train.sh',
        STAGE2, '2', '--work-dir', wd2, '--cfg-options',
        f'model.encoder_checkpoint={ckpt1}',
        'train_dataloader.dataset.pipeline.1.scales=[(64,64),(96,96)]',
        'train_dataloader.dataset.pipeline.4.crop_size=(64,64)',
        'model.data_preprocessor.size=(64,64)',
        'model.act_head.encoder_input=64', *_common(root), *[
            f'{loader}_dataloader.dataset.data_root={root}'
            for loader in ('val', 'test')
        ]
    ], env)
    assert 'world size 2' in out and 'Distributed training: True' in out
    assert 'stage-1 encoder loaded from' in out
    lines = [
        m.group(0)
        for m in re.finditer(r'Iter\(train\) \[\d/%d\].*' % ITERS, out)
    ]
    assert len(lines) == ITERS, out[-3000:]
    for key in ('act.loss_fg: ', 'act.loss_bg: ', 'act.loss_reg: ',
                'act.loss_cons: ', 'act.loss_sim: ',
                'method_status: reconstruction'):
        assert all(key in line for line in lines), (key, lines)
    for wd in (wd1, wd2):
        records = _records(wd)
        assert records and all(
            r.get('method_status') == 'reconstruction' for r in records)
        saved = glob.glob(osp.join(wd, '*.py'))
        assert saved and Config.fromfile(
            saved[0]).method_status == 'reconstruction'
    sd1 = torch.load(ckpt1, map_location='cpu',
                     weights_only=False)['state_dict']
    sd2 = torch.load(
        osp.join(wd2, f'iter_{ITERS}.pth'),
        map_location='cpu',
        weights_only=False)['state_dict']
    # the frozen encoder is the stage-1 model, unchanged by stage 2
    for k, v in sd1.items():
        assert torch.equal(sd2['encoder.' + k], v), k
    assert torch.allclose(
        sd2['act_head.crs'],
        torch.relu(sd1['head.semantics.weight']))
    assert sd2['act_head.phi.weight'].shape == (256, 256, 1, 1)


def test_train_without_the_stage1_checkpoint_is_one_error_line(tmp_path):
    """``tools/train.py`` of a stage-2 config whose stage-1 checkpoint is
    missing stops before training with one line naming the key and the
    path (exit 2)."""
    from repo_commands import tool_error

    from tools.train import main
    missing = str(tmp_path / 'stage1' / 'iter_300.pth')
    line = tool_error(main, [
        osp.join(ROOT, 'configs', 'slams',
                 'slams_effnet-lite0_1xb16-600it_synthetic-112x112.py'),
        '--work-dir',
        str(tmp_path / 'wd'), '--cfg-options',
        'model.backbone.init_cfg=None', f'model.encoder_checkpoint={missing}'
    ])
    assert 'model.encoder_checkpoint' in line and missing in line
    assert not osp.exists(osp.join(str(tmp_path / 'wd'), 'iter_1.pth'))
