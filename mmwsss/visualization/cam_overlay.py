"""Render CAMs as overlay images."""
from typing import Optional, Sequence

import cv2
import numpy as np

__all__ = ['cam_to_heatmap', 'cam_overlay', 'cam_panel']


def cam_to_heatmap(cam: np.ndarray) -> np.ndarray:
    """Map a [0, 1] float map (H, W) to an RGB uint8 JET heatmap."""
    cam8 = np.clip(np.nan_to_num(cam) * 255.0, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(cam8, cv2.COLORMAP_JET)[..., ::-1].copy()


def cam_overlay(img: np.ndarray, cam: np.ndarray,
                alpha: float = 0.5) -> np.ndarray:
    """Blend an RGB uint8 image (H, W, 3) with the heatmap of ``cam``."""
    if img.shape[:2] != cam.shape[:2]:
        cam = cv2.resize(
            cam.astype(np.float32), (img.shape[1], img.shape[0]),
            interpolation=cv2.INTER_LINEAR)
    heat = cam_to_heatmap(cam)
    out = (1 - alpha) * img.astype(np.float32) + alpha * heat
    return np.clip(out, 0, 255).astype(np.uint8)


def _put_title(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (255, 255, 255), 2, cv2.LINE_AA)
    cv2.putText(tile, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0),
                1, cv2.LINE_AA)
    return tile


def cam_panel(img: np.ndarray,
              hr_cam: np.ndarray,
              keys: Sequence[int],
              class_names: Optional[Sequence[str]] = None,
              pred: Optional[np.ndarray] = None,
              gt: Optional[np.ndarray] = None,
              palette: Optional[Sequence[Sequence[int]]] = None) -> np.ndarray:
    """A horizontal strip: image, one overlay per present class, label maps.

    Args:
        img (np.ndarray): RGB uint8 image (H, W, 3).
        hr_cam (np.ndarray): Normalised CAMs of the present classes
            (|P|, H, W).
        keys (Sequence[int]): ``[0] + [k+1 for k in P]``.
        class_names (Sequence[str], optional): Names incl. background.
        pred (np.ndarray, optional): Predicted label map (H, W).
        gt (np.ndarray, optional): Ground-truth label map (H, W).
        palette (Sequence, optional): RGB colour per class index.

    Returns:
        np.ndarray: RGB uint8 panel.
    """
    tiles = [_put_title(img, 'image')]
    for i, k in enumerate(list(keys)[1:]):
        name = class_names[k] if class_names is not None else str(k)
        tiles.append(_put_title(cam_overlay(img, hr_cam[i]), name))
    if palette is None:
        rng = np.random.RandomState(0)
        palette = rng.randint(0, 255, (256, 3))
        palette[0] = 0
    lut = np.zeros((256, 3), np.uint8)
    pal = np.asarray(palette, dtype=np.uint8)
    lut[:len(pal)] = pal
    lut[255] = 255
    for title, lbl in (('pred', pred), ('gt', gt)):
        if lbl is not None:
            tiles.append(_put_title(lut[lbl.astype(np.uint8)], title))
    return np.concatenate(tiles, axis=1)
