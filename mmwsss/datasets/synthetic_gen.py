"""Procedural synthetic WSSS dataset (numpy + OpenCV only).

Images show 1-3 textured objects of 4 classes on textured backgrounds:

=====  ==========  ==========================================
value  class       shape / texture
=====  ==========  ==========================================
1      disc        ellipse (axis ratio 0.75-1), checkerboard
2      square      rotated square, stripes
3      triangle    rotated equilateral triangle, dot grid
4      star        rotated 5-pointed star, blocky speckle noise
=====  ==========  ==========================================

Every object draws its two texture colours from the same distribution, so
colour alone does not tell the class; texture periods and orientations are
random. Objects are drawn in order, later ones occluding earlier ones, and
the mask is the exact final visible label map. A class is present (in
``labels.json``) iff at least ``min_pixels`` of its pixels stay visible;
pixels of classes below that are set to 255 so masks and labels agree. An
optional ignore band (255) of ``boundary_width`` pixels can be put on label
boundaries (like PASCAL VOC), off by default.

The output uses the mmwsss folder layout (``images/``, ``masks/``,
``splits/{train,val,test}.txt``, ``classes.txt``, ``labels.json``) plus
``meta.json`` (generator parameters) and the completion marker
``.mmwsss_complete``. Generation is deterministic: every image uses its own
random generator seeded by ``(seed, split, index)``, so the same parameters
give byte-identical masks (and images, with the same OpenCV build).
Generation writes into a temporary sibling folder and renames it into place;
a file lock (POSIX) makes concurrent processes generate only once.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import time
import uuid
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmwsss.utils.fileio import (DataFileError, atomic_save_json,
                                 atomic_save_lines, load_json)

__all__ = [
    'SYNTHETIC_CLASSES', 'SYNTHETIC_DEFAULTS', 'GENERATOR_VERSION',
    'COMPLETE_MARKER', 'generate_synthetic', 'render_sample',
    'default_synthetic_root', 'is_complete'
]

#: Version of the generator; bump it whenever the output changes.
GENERATOR_VERSION = 1
#: Class names (background first); mask value = index.
SYNTHETIC_CLASSES = ('background', 'disc', 'square', 'triangle', 'star')
#: Name of the file that marks a finished dataset folder.
COMPLETE_MARKER = '.mmwsss_complete'
#: Default generator parameters (``synthetic_v1``).
SYNTHETIC_DEFAULTS: Dict = dict(
    num_train=600,
    num_val=100,
    num_test=200,
    size=(128, 128),
    seed=0,
    min_objects=1,
    max_objects=3,
    min_pixels=64,
    boundary_width=0,
    jpeg_quality=95)

_SPLIT_CODES = {'train': 0, 'val': 1, 'test': 2}
_TEXTURES = {1: 'checker', 2: 'stripes', 3: 'dots', 4: 'speckle'}


def _random_colour_pair(rng: np.random.Generator) -> Tuple[np.ndarray, ...]:
    """Two RGB colours with a clear contrast (same law for every class)."""
    while True:
        c1 = rng.uniform(20, 235, size=3)
        c2 = rng.uniform(20, 235, size=3)
        if np.abs(c1 - c2).mean() >= 55:
            return c1.astype(np.float32), c2.astype(np.float32)


def _rotated_coords(xx: np.ndarray, yy: np.ndarray,
                    angle: float) -> Tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(angle), np.sin(angle)
    return xx * c + yy * s, -xx * s + yy * c


def _background(rng: np.random.Generator, xx: np.ndarray,
                yy: np.ndarray) -> np.ndarray:
    """A smooth textured background (float32 RGB, H x W x 3)."""
    h, w = xx.shape
    kind = rng.integers(3)
    c1, c2 = _random_colour_pair(rng)
    if kind == 0:  # smooth value noise
        gh, gw = int(rng.integers(3, 7)), int(rng.integers(3, 7))
        low = rng.uniform(0, 1, size=(gh, gw)).astype(np.float32)
        t = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
        t = np.clip(t, 0, 1)
    elif kind == 1:  # linear gradient
        u, _ = _rotated_coords(xx, yy, rng.uniform(0, 2 * np.pi))
        t = (u - u.min()) / max(float(u.max() - u.min()), 1e-6)
    else:  # broad low-frequency waves (much wider than object stripes)
        u, _ = _rotated_coords(xx, yy, rng.uniform(0, np.pi))
        period = rng.uniform(0.35, 0.7) * max(h, w)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * u / period + rng.uniform(0, 6.3))
    t = t.astype(np.float32)[..., None]
    return c1 * (1 - t) + c2 * t


def _texture(cls: int, rng: np.random.Generator, xx: np.ndarray,
             yy: np.ndarray) -> np.ndarray:
    """The class texture over the whole frame (float32 RGB)."""
    h, w = xx.shape
    c1, c2 = _random_colour_pair(rng)
    kind = _TEXTURES[cls]
    u, v = _rotated_coords(xx, yy, rng.uniform(0, np.pi))
    u = u + rng.uniform(0, 100)
    v = v + rng.uniform(0, 100)
    if kind == 'checker':
        p = rng.uniform(6, 11)
        t = (np.floor(u / p) + np.floor(v / p)) % 2
    elif kind == 'stripes':
        p = rng.uniform(5, 9)
        t = ((u / p) % 1.0) < 0.5
    elif kind == 'dots':
        p = rng.uniform(7, 11)
        du = (u / p) % 1.0 - 0.5
        dv = (v / p) % 1.0 - 0.5
        t = (du * du + dv * dv) < rng.uniform(0.06, 0.1)
    else:  # blocky speckle
        block = int(rng.integers(2, 4))
        gh, gw = -(-h // block), -(-w // block)
        low = (rng.uniform(size=(gh, gw)) < 0.5).astype(np.float32)
        t = np.repeat(np.repeat(low, block, 0), block, 1)[:h, :w]
    t = t.astype(np.float32)[..., None]
    return c1 * (1 - t) + c2 * t


def _shape_mask(cls: int, rng: np.random.Generator, h: int, w: int, cx: float,
                cy: float, r: float) -> np.ndarray:
    """Binary uint8 mask of one object (exact, no anti-aliasing)."""
    mask = np.zeros((h, w), np.uint8)
    angle = rng.uniform(0, 2 * np.pi)
    if cls == 1:
        axes = (int(round(r)), int(round(r * rng.uniform(0.75, 1.0))))
        cv2.ellipse(mask, (int(round(cx)), int(round(cy))), axes,
                    float(np.degrees(angle)), 0, 360, 1, -1)
        return mask
    if cls == 2:
        radii = [r * 1.1] * 4
        angles = angle + np.arange(4) * np.pi / 2
    elif cls == 3:
        radii = [r * 1.3] * 3
        angles = angle + np.arange(3) * 2 * np.pi / 3
    else:
        radii = [r * 1.3, r * 0.6] * 5
        angles = angle + np.arange(10) * np.pi / 5
    pts = np.stack([
        cx + np.asarray(radii) * np.cos(angles),
        cy + np.asarray(radii) * np.sin(angles)
    ],
                   axis=1)
    pts = np.round(pts * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return mask


def render_sample(
        seed: int,
        split: str,
        index: int,
        size: Tuple[int, int] = (128, 128),
        min_objects: int = 1,
        max_objects: int = 3,
        min_pixels: int = 64,
        boundary_width: int = 0) -> Tuple[np.ndarray, np.ndarray, List[int]]:
    """Render one synthetic sample.

    Args:
        seed (int): Dataset seed.
        split (str): 'train', 'val' or 'test' (part of the sample seed).
        index (int): Index of the sample in its split.
        size (tuple[int, int]): (H, W).
        min_objects (int): Fewest objects drawn. Defaults to 1.
        max_objects (int): Most objects drawn. Defaults to 3.
        min_pixels (int): Visible pixels a class needs to count as present.
        boundary_width (int): Width of the 255 band on label boundaries
            (0 = none).

    Returns:
        tuple: RGB image uint8 (H, W, 3), mask uint8 (H, W) with values in
        {0..4, 255}, and the sorted present class indices.
    """
    h, w = size
    rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = _background(rng, xx, yy)
    label = np.zeros((h, w), np.uint8)
    n = int(rng.integers(min_objects, max_objects + 1))
    for _ in range(n):
        cls = int(rng.integers(1, len(SYNTHETIC_CLASSES)))
        r = rng.uniform(0.11, 0.26) * min(h, w)
        cx = rng.uniform(0.6 * r, w - 0.6 * r)
        cy = rng.uniform(0.6 * r, h - 0.6 * r)
        obj = _shape_mask(cls, rng, h, w, cx, cy, r).astype(bool)
        tex = _texture(cls, rng, xx, yy)
        img[obj] = tex[obj]
        label[obj] = cls
    # global illumination change + sensor noise
    gain = rng.uniform(0.85, 1.15)
    img = img * gain + rng.normal(0, 5, size=img.shape)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)

    if boundary_width > 0:
        k = np.ones((2 * boundary_width + 1, 2 * boundary_width + 1), np.uint8)
        band = cv2.dilate(label, k) != cv2.erode(label, k)
        label[band] = 255
    counts = np.bincount(label.ravel(), minlength=256)
    present = []
    for cls in range(1, len(SYNTHETIC_CLASSES)):
        if counts[cls] >= min_pixels:
            present.append(cls)
        elif counts[cls] > 0:
            label[label == cls] = 255
    return img, label, present


def default_synthetic_root(params: Optional[Dict] = None) -> str:
    """Default cache folder of the synthetic dataset.

    ``$MMWSSS_CACHE/synthetic_v1`` (``MMWSSS_CACHE`` defaults to
    ``~/.cache/mmwsss``) for the default parameters; other parameters get
    ``synthetic_v1_<hash of the parameters>``.
    """
    base = os.environ.get('MMWSSS_CACHE') or osp.join('~', '.cache', 'mmwsss')
    base = osp.expanduser(base)
    params = _normalise_params(params or {})
    name = f'synthetic_v{GENERATOR_VERSION}'
    if params != _normalise_params(SYNTHETIC_DEFAULTS):
        digest = hashlib.sha1(json.dumps(
            params, sort_keys=True).encode()).hexdigest()[:10]
        name = f'{name}_{digest}'
    return osp.join(base, name)


def _normalise_params(params: Dict) -> Dict:
    out = dict(SYNTHETIC_DEFAULTS)
    unknown = set(params) - set(SYNTHETIC_DEFAULTS)
    if unknown:
        raise TypeError(f'Unknown synthetic parameters: {sorted(unknown)}.')
    out.update(params)
    out['size'] = [int(s) for s in out['size']]
    for k, v in out.items():
        if k != 'size':
            out[k] = int(v)
    return out


def is_complete(root: str) -> bool:
    """Whether ``root`` holds a finished synthetic dataset."""
    return osp.isfile(osp.join(root, COMPLETE_MARKER))


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    """Exclusive inter-process lock on ``path`` (no-op without fcntl)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(path, 'a') as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _check_existing(root: str, params: Dict) -> None:
    meta_file = osp.join(root, 'meta.json')
    meta = load_json(meta_file, 'the meta file of a finished synthetic set',
                     f'Delete {root} to regenerate it.')
    stored = {k: meta.get(k) for k in params}
    if stored != params or meta.get('version') != GENERATOR_VERSION:
        raise DataFileError(
            f'{root} was generated with other parameters ({meta_file}: '
            f'{meta}) than requested ({params}, version '
            f'{GENERATOR_VERSION}). Delete the folder or choose another '
            f'data_root.')


def _write_dataset(tmp: str, params: Dict) -> None:
    size = tuple(params['size'])
    for sub in ('images', 'masks', 'splits'):
        os.makedirs(osp.join(tmp, sub))
    labels: Dict[str, List[int]] = {}
    quality = [int(cv2.IMWRITE_JPEG_QUALITY), params['jpeg_quality']]
    for split in ('train', 'val', 'test'):
        ids = []
        for i in range(params[f'num_{split}']):
            img_id = f'{split}_{i:05d}'
            img, mask, present = render_sample(params['seed'], split, i, size,
                                               params['min_objects'],
                                               params['max_objects'],
                                               params['min_pixels'],
                                               params['boundary_width'])
            if not cv2.imwrite(
                    osp.join(tmp, 'images', img_id + '.jpg'),
                    cv2.cvtColor(img, cv2.COLOR_RGB2BGR), quality):
                raise OSError(f'cannot write images to {tmp}')
            cv2.imwrite(osp.join(tmp, 'masks', img_id + '.png'), mask)
            labels[img_id] = present
            ids.append(img_id)
        atomic_save_lines(osp.join(tmp, 'splits', f'{split}.txt'), ids)
    atomic_save_lines(osp.join(tmp, 'classes.txt'), SYNTHETIC_CLASSES)
    atomic_save_json(
        osp.join(tmp, 'labels.json'), labels, one_key_per_line=True)
    meta = dict(
        params, version=GENERATOR_VERSION, classes=list(SYNTHETIC_CLASSES))
    atomic_save_json(osp.join(tmp, 'meta.json'), meta, indent=1)
    atomic_save_lines(osp.join(tmp, COMPLETE_MARKER), ['ok'])


def generate_synthetic(root: Optional[str] = None,
                       num_train: int = 600,
                       num_val: int = 100,
                       num_test: int = 200,
                       size: Sequence[int] = (128, 128),
                       seed: int = 0,
                       min_objects: int = 1,
                       max_objects: int = 3,
                       min_pixels: int = 64,
                       boundary_width: int = 0,
                       jpeg_quality: int = 95,
                       verbose: bool = False) -> str:
    """Generate the synthetic dataset into ``root`` (once; then reuse).

    If ``root`` already holds a finished dataset (completion marker) it is
    reused after checking that ``meta.json`` records the same parameters.
    Otherwise the dataset is written into a temporary sibling folder that is
    renamed to ``root`` when complete, under an inter-process file lock
    (``<root>.lock``), so concurrent callers never see a partial folder.

    Args:
        root (str, optional): Output folder. Defaults to
            :func:`default_synthetic_root` of the parameters
            (``~/.cache/mmwsss/synthetic_v1`` or ``$MMWSSS_CACHE/...``).
        num_train (int): Train images. Defaults to 600.
        num_val (int): Val images. Defaults to 100.
        num_test (int): Test images. Defaults to 200.
        size (Sequence[int]): Image size (H, W). Defaults to (128, 128).
        seed (int): Seed. Defaults to 0.
        min_objects (int): Fewest objects per image. Defaults to 1.
        max_objects (int): Most objects per image. Defaults to 3.
        min_pixels (int): Visible pixels for a class to count as present;
            smaller visible parts become 255. Defaults to 64.
        boundary_width (int): Ignore band on label boundaries, pixels.
            Defaults to 0 (none).
        jpeg_quality (int): JPEG quality of the images. Defaults to 95.
        verbose (bool): Print the time taken. Defaults to False.

    Returns:
        str: The dataset root.
    """
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f'size must be (H, W) with sides >= 16, got {size}.')
    if not 1 <= min_objects <= max_objects:
        raise ValueError('need 1 <= min_objects <= max_objects, got '
                         f'{min_objects}, {max_objects}.')
    params = _normalise_params(
        dict(
            num_train=num_train,
            num_val=num_val,
            num_test=num_test,
            size=size,
            seed=seed,
            min_objects=min_objects,
            max_objects=max_objects,
            min_pixels=min_pixels,
            boundary_width=boundary_width,
            jpeg_quality=jpeg_quality))
    root = osp.abspath(osp.expanduser(root or default_synthetic_root(params)))
    if is_complete(root):
        _check_existing(root, params)
        return root
    parent = osp.dirname(root)
    os.makedirs(parent, exist_ok=True)
    with _file_lock(root + '.lock'):
        if is_complete(root):  # another process finished meanwhile
            _check_existing(root, params)
            return root
        if osp.isdir(root) and os.listdir(root):
            raise DataFileError(
                f'{root} exists but has no completion marker '
                f'{COMPLETE_MARKER} (an interrupted or foreign folder). '
                f'Delete it to regenerate, or choose another data_root.')
        tmp = osp.join(
            parent, f'.{osp.basename(root)}.tmp-{os.getpid()}-'
            f'{uuid.uuid4().hex[:8]}')
        start = time.time()
        try:
            _write_dataset(tmp, params)
            if osp.isdir(root):
                os.rmdir(root)  # empty placeholder
            os.rename(tmp, root)
        except OSError:
            if is_complete(root):  # lost a race on a lock-less system
                shutil.rmtree(tmp, ignore_errors=True)
                return root
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if verbose:
        print(f'synthetic dataset written to {root} in '
              f'{time.time() - start:.1f} s')
    return root
