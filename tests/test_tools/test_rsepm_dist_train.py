"""``tools/dist_train.sh configs/rsepm_r50_voc.py 2``: two CPU processes
(gloo) train the RS+EPM alias config on a generated VOC fixture through all
three phases (cls -> rs -> rs_epm) and write a checkpoint.

Only sizes are overridden: pretrained weights off, a ResNet-18 instead of
ResNet-50 (CPU), crop 64, batch 2 per process, 3 iterations with one
"epoch" per iteration so that the phase hook switches at iterations 1 and
2. Everything else (pipeline with colour jitter, optimiser, SCG / PAMR /
CF / EPM, concat forward, DDP with find_unused_parameters) is the real
config."""
import os
import os.path as osp
import re
import subprocess
import sys

from mmwsss.datasets.testing import make_voc_fixture

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ALIAS = 'configs/rsepm_r50_voc.py'


def _options(root, wd_iters=3):
    opts = [
        # tiny backbone, no download
        'model.backbone.depth=18',
        'model.backbone.init_cfg=None',
        'model.cam_head.in_channels=512',
        'model.decode_head.in_channels=512',
        'model.decode_head.c1_in_channels=64',
        # crop 64 (pipeline index 4 = RandomContainerCrop)
        'train_dataloader.dataset.pipeline.4.crop_size=(64,64)',
        'model.data_preprocessor.size=(64,64)',
        'train_dataloader.batch_size=2',
        f'train_cfg.max_iters={wd_iters}',
        f'train_cfg.val_interval={wd_iters + 1}',
        f'param_scheduler.0.end={wd_iters + 1}',
        f'default_hooks.checkpoint.interval={wd_iters}',
        'default_hooks.logger.interval=1',
        # phases: cls at iteration 0, rs at 1, rs_epm at 2
        'custom_hooks.1.iters_per_epoch=1',
        'custom_hooks.1.rs_start_epoch=1',
        'custom_hooks.1.epm_start_epoch=2',
        f'custom_hooks.1.max_epochs={wd_iters}',
    ]
    for loader in ('train', 'val', 'test'):
        opts += [
            f'{loader}_dataloader.dataset.data_root={root}',
            f'{loader}_dataloader.num_workers=0',
            f'{loader}_dataloader.persistent_workers=False',
        ]
    return opts


def test_dist_train_rsepm_alias_two_cpu_processes(tmp_path):
    root = str(tmp_path / 'VOC2012')
    make_voc_fixture(root, n=10, size=(64, 80), seed=1)
    wd = str(tmp_path / 'wd')
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', PORT='29531')
    env.pop('MASTER_PORT', None)
    cmd = [
        'env', f'PYTHON={sys.executable}', 'bash', 'tools/dist_train.sh',
        ALIAS, '2', '--work-dir', wd, '--cfg-options', *_options(root)
    ]
    res = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert 'gloo process group for CPU distributed training, world size 2' \
        in out, out[-3000:]
    assert 'Distributed training: True' in out
    assert osp.isfile(osp.join(wd, 'iter_3.pth'))
    # the phase hook switched at iterations 1 and 2 (rank 0 logs)
    for msg in ('RS+EPM phase: start -> cls at iter 0',
                'RS+EPM phase: cls -> rs at iter 1',
                'RS+EPM phase: rs -> rs_epm at iter 2'):
        assert msg in out, (msg, out[-3000:])
    lines = {
        int(m.group(1)): m.group(0)
        for m in re.finditer(r'Iter\(train\) \[(\d)/3\].*', out)
    }
    assert sorted(lines) == [1, 2, 3], out[-3000:]
    # iteration 1 (cls): L_cls only; 2 (rs): + L_rec, L_seg;
    # 3 (rs_epm): + the mixed losses
    assert 'loss_cls: ' in lines[1] and 'loss_rec' not in lines[1]
    for key in ('loss_cls: ', 'loss_rec: ', 'decode.loss_ce: ',
                'seed_fg_ratio: '):
        assert key in lines[2] and key in lines[3], (key, lines)
    assert 'mix.' not in lines[2]
    for key in ('mix.loss_rec: ', 'mix.decode.loss_ce: ', 'ep_fg_ratio: '):
        assert key in lines[3], (key, lines[3])
    # the checkpoint holds the whole model (CAM head and decoder)
    import torch
    ckpt = torch.load(
        osp.join(wd, 'iter_3.pth'), map_location='cpu', weights_only=False)
    keys = ckpt['state_dict'].keys()
    assert any(k.startswith('cam_head.') for k in keys)
    assert any(k.startswith('decode_head.') for k in keys)
    assert ckpt['meta']['iter'] == 3
