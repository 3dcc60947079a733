"""Generated pseudo-label inputs: a folder-layout fixture plus CAM files
derived from its GT masks (blurred, noisy), written with the contract
layout (keys, cam at stride 4, hr_cam)."""
import json
import os
import os.path as osp

import cv2
import numpy as np

from mmwsss.datasets.testing import make_folder_fixture
from mmwsss.utils.fileio import atomic_save_npz, read_label_png


def make_pl_fixture(root,
                    cam_dir,
                    splits=None,
                    num_classes=5,
                    size=(48, 64),
                    seed=0):
    """Folder fixture + fake CAM files of every image.

    Returns:
        dict[str, list[str]]: split -> ids.
    """
    splits = splits or {'train': 6, 'val': 2, 'test': 2}
    make_folder_fixture(
        root, splits=splits, num_classes=num_classes, size=size, seed=seed)
    with open(osp.join(root, 'labels.json')) as f:
        labels = json.load(f)
    rng = np.random.default_rng(seed)
    os.makedirs(cam_dir, exist_ok=True)
    out = {}
    for split in splits:
        with open(osp.join(root, 'splits', split + '.txt')) as f:
            ids = f.read().split()
        out[split] = ids
        for i in ids:
            m = read_label_png(osp.join(root, 'masks', i + '.png'))
            present = sorted(labels[i])
            hr = []
            for c in present:
                b = cv2.GaussianBlur((m == c).astype(np.float32), (0, 0), 3)
                b += rng.uniform(0, 0.1, m.shape).astype(np.float32)
                hr.append(b / b.max())
            hr = np.stack(hr).astype(np.float32)
            h4, w4 = (m.shape[0] + 3) // 4, (m.shape[1] + 3) // 4
            cam = np.stack([
                cv2.resize(x, (w4, h4), interpolation=cv2.INTER_AREA)
                for x in hr
            ])
            cam /= cam.max(axis=(1, 2), keepdims=True)
            atomic_save_npz(
                osp.join(cam_dir, i + '.npz'),
                keys=np.array([0] + present, np.int64),
                cam=cam.astype(np.float32),
                hr_cam=hr)
    return out
