"""The prediction export (configs/_base_/export/predictions.py) of a
one-step model through tools/test.py: one label PNG per image equal to the
model's own single-image prediction (argmax of the bilinearly upsampled
segmentation logits, computed here without the export path), resumable
(a rerun writes nothing), refused for another checkpoint."""
import os
import os.path as osp
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from repo_commands import ROOT, run_repo

RRM_CFG = osp.join(ROOT, 'configs', 'rrm',
                   'rrm_effnet-lite0_1xb16-600it_synthetic-112x112.py')
SNIPPET = osp.join(ROOT, 'configs', '_base_', 'export', 'predictions.py')
N = 6
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])


def test_rrm_prediction_png_export(tmp_path):
    from mmengine.config import Config
    from mmseg.registry import MODELS

    from mmwsss.datasets.testing import make_folder_fixture
    root = str(tmp_path / 'data')
    make_folder_fixture(root, {'train': N}, num_classes=3, size=(40, 52))
    cfg = str(tmp_path / 'pred.py')
    with open(cfg, 'w') as f:
        f.write(f'''
_base_ = [{RRM_CFG!r}, {SNIPPET!r}]
model = dict(backbone=dict(init_cfg=None), cam_head=dict(num_classes=3),
             decode_head=dict(num_classes=4))
train_dataloader = dict(dataset=dict(
    _delete_=True, type='WSSSFolderDataset', data_root={root!r},
    split='train'))
export = dict(split='train', num_workers=0)
''')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg).model).eval()
    ckpt = str(tmp_path / 'rrm.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    out = str(tmp_path / 'pngs')

    def export(checkpoint, ok=True):
        return run_repo([
            sys.executable, 'tools/test.py', cfg, checkpoint, '--out-dir',
            out, '--work-dir',
            str(tmp_path / 'wd')
        ],
                        ok=ok,
                        drop_env=('MMWSSS_TRUST_CHECKPOINT', ))

    export(ckpt)
    names = sorted(os.listdir(out))
    pngs = [n for n in names if n.endswith('.png')]
    assert len(pngs) == N and 'manifest.json' in names
    # every PNG equals the model's prediction, computed here directly
    with open(osp.join(root, 'splits', 'train.txt')) as f:
        ids = [ln.strip() for ln in f if ln.strip()]
    images = os.listdir(osp.join(root, 'images'))
    for img_id in ids:
        img_file = [n for n in images if osp.splitext(n)[0] == img_id][0]
        rgb = np.asarray(
            Image.open(osp.join(root, 'images', img_file)).convert('RGB'),
            np.float64)
        x = torch.from_numpy(((rgb - MEAN) / STD).transpose(
            2, 0, 1)).float()[None]
        with torch.no_grad():
            seg = model.decode_head(model.backbone(x))
            seg = F.interpolate(
                seg, x.shape[-2:], mode='bilinear', align_corners=False)
        want = seg[0].argmax(0).numpy().astype(np.uint8)
        got = np.asarray(Image.open(osp.join(out, img_id + '.png')))
        assert got.shape == want.shape
        assert (got == want).mean() > 0.999, img_id
    # a rerun writes nothing; another checkpoint is refused
    before = {n: os.stat(osp.join(out, n)).st_mtime_ns for n in pngs}
    log = export(ckpt)
    assert 'export/written: 0' in log, log[-2000:]
    assert before == {
        n: os.stat(osp.join(out, n)).st_mtime_ns
        for n in pngs
    }
    torch.manual_seed(1)
    other = MODELS.build(Config.fromfile(cfg).model)
    ckpt2 = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=other.state_dict(), meta={}), ckpt2)
    log = export(ckpt2, ok=False)
    assert '--overwrite' in log
