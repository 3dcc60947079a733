"""Reliable-region mining of RRM: CAMs + two dense CRFs -> sparse labels."""
import math
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmseg.registry import MODELS
from torch import Tensor

from mmwsss.utils.checks import check_choices
from mmwsss.utils.parallel import PersistentPool

__all__ = ['ReliableRegionMining', 'top_ratio_region']

MINING_MODES = ('code', 'paper')


def top_ratio_region(values: Tensor,
                     mask: Tensor,
                     top_ratio: float,
                     min_value: Optional[float] = None,
                     inclusive: bool = False) -> Tensor:
    """The pixels of ``mask`` whose value is in the top ``top_ratio`` of
    the masked values.

    With ``V`` the masked values (those above ``min_value`` when given)
    sorted ascending, the threshold is ``t = V[floor((1 - top_ratio) |V|)]``
    and the region is ``values > t`` (``>=`` with ``inclusive``) inside
    ``mask``. An empty ``V`` gives an empty region.

    Args:
        values (Tensor): (H, W) scores.
        mask (Tensor): (H, W) bool candidate pixels.
        top_ratio (float): Fraction kept, in (0, 1].
        min_value (float, optional): Only values above it count.
        inclusive (bool): ``>=`` instead of ``>``.

    Returns:
        Tensor: (H, W) bool region.
    """
    cand = mask if min_value is None else mask & (values > min_value)
    v = values[cand]
    if v.numel() == 0:
        return torch.zeros_like(mask)
    k = min(int(math.floor((1.0 - top_ratio) * v.numel())), v.numel() - 1)
    t = torch.kthvalue(v.float().cpu(), k + 1).values.to(values.device)
    keep = values >= t if inclusive else values > t
    return keep & cand


class _SoftmaxCRFJob:
    """Picklable: CRF marginals of one ``(image, probs)`` item."""

    def __init__(self, crf) -> None:
        self.crf = crf

    def __call__(self, item: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        image, probs = item
        return self.crf.refine_probs(image, probs)


@MODELS.register_module()
class ReliableRegionMining:
    """Reliable-region mining of RRM (Zhang et al., AAAI 2020).

    Turns normalised CAMs ``P_fg`` (B, K, H, W) in [0, 1] (0 for absent
    classes) and the uint8 RGB crops into sparse labels (B, H, W) in
    ``{0..K, ignore_index}``. With ``m = max_c P_fg``:

    ``mining='code'`` (default; the official implementation):

    - ``cam_img = argmax [(1 - m)^cam_bg_power, P_fg]``.
    - Two softmax-unary dense CRFs (``crf``, by default the ``softmax``
      preset: Gaussian 3/3, bilateral 80/13/10, 10 iterations) on
      ``[(1 - m)^alpha, P_fg of the present classes]`` for ``alpha`` in
      ``(alpha_lo, alpha_hi)``, marginals ``Q_lo``, ``Q_hi``, labels
      ``L_lo``, ``L_hi``. ``alpha_lo`` (4) gives the larger background
      score, so its *foreground* is reliable; ``alpha_hi`` (32) its
      *background*.
    - ``crf_label = L_lo``, background of ``L_lo`` ignored, background of
      ``L_hi`` set to 0 (background wins a conflict).
    - ``R_cam``: for each foreground class c of ``L_lo``, the top
      ``top_ratio`` (40 %) of ``P_fg[c]`` among the pixels where
      ``cam_img == c`` and ``P_fg[c] > min_cam`` (:func:`top_ratio_region`;
      no such pixel: no region, no error); if 0 is in ``L_lo``, the pixels
      with ``cam_img == 0`` and ``(1 - m)^cam_bg_power > bg_sure``.
    - ``R_crf``: ``max([Q_hi[0], Q_lo[1:]]) >= crf_sure``.
    - label = ``crf_label`` on ``R_cam & R_crf``, else ignored.

    ``mining='paper'`` (eqs. 3-7): ``P_bg = (1 - m)^alpha_lo``;
    ``I_cam`` = argmax of ``[P_bg, P_fg]`` on the top ``top_ratio`` of
    each class's argmax pixels (a per-class threshold, ``>=``), else
    ignored; ``I_crf`` = argmax of one CRF on ``[P_bg, P_fg]``; label =
    ``I_cam`` where ``I_cam == I_crf``, else ignored.

    The CAM and mask operations are torch on the device of ``cams``; the
    CRFs (pydensecrf, CPU) run in a process pool kept open across
    iterations (``crf_workers`` processes; 2 B CRFs per batch in the
    code mode).

    Args:
        mining (str): ``'code'`` or ``'paper'``. Defaults to ``'code'``.
        alpha_lo (float): Background power of the background-favouring
            CRF (and the paper's gamma). Defaults to 4.
        alpha_hi (float): Background power of the foreground-favouring
            CRF. Defaults to 32.
        cam_bg_power (float): Background power of ``cam_img``.
            Defaults to 32.
        top_ratio (float): Fraction of a class's CAM-argmax pixels kept.
            Defaults to 0.4.
        min_cam (float): CAM values at or below it never count (code
            mode). Defaults to 0.1.
        bg_sure (float): Threshold of the sure background of ``R_cam``.
            Defaults to 0.8.
        crf_sure (float): Threshold of the CRF confidence ``R_crf``.
            Defaults to 0.8.
        crf (dict): :class:`DenseCRF` config with a softmax unary.
            Defaults to the ``softmax`` preset.
        crf_workers (int, optional): CRF processes; 0 or 1 runs them in
            this process. None (default): the CPU count divided by the
            number of distributed processes.
        ignore_index (int): Value of unlabelled pixels. Defaults to 255.
    """

    def __init__(self,
                 mining: str = 'code',
                 alpha_lo: float = 4.0,
                 alpha_hi: float = 32.0,
                 cam_bg_power: float = 32.0,
                 top_ratio: float = 0.4,
                 min_cam: float = 0.1,
                 bg_sure: float = 0.8,
                 crf_sure: float = 0.8,
                 crf: dict = dict(type='DenseCRF', preset='softmax'),
                 crf_workers: Optional[int] = None,
                 ignore_index: int = 255) -> None:
        check_choices(mining=(mining, MINING_MODES))
        for key, value in (('alpha_lo', alpha_lo), ('alpha_hi', alpha_hi),
                           ('cam_bg_power', cam_bg_power)):
            if not value > 0:
                raise ValueError(f'{key} must be > 0, got {value}')
        if not 0 < top_ratio <= 1:
            raise ValueError(f'top_ratio must be in (0, 1], got {top_ratio}')
        for key, value in (('min_cam', min_cam), ('bg_sure', bg_sure),
                           ('crf_sure', crf_sure)):
            if not 0 <= value <= 1:
                raise ValueError(f'{key} must be in [0, 1], got {value}')
        if crf_workers is not None and crf_workers < 0:
            raise ValueError(f'crf_workers must be >= 0, got {crf_workers}')
        self.mining = mining
        self.alpha_lo = float(alpha_lo)
        self.alpha_hi = float(alpha_hi)
        self.cam_bg_power = float(cam_bg_power)
        self.top_ratio = float(top_ratio)
        self.min_cam = float(min_cam)
        self.bg_sure = float(bg_sure)
        self.crf_sure = float(crf_sure)
        self.crf = MODELS.build(crf) if isinstance(crf, dict) else crf
        if self.crf.params.get('unary') != 'softmax':
            raise ValueError('ReliableRegionMining needs a CRF with a '
                             "softmax unary (e.g. preset='softmax'), got "
                             f'{self.crf!r}')
        self.crf_workers = crf_workers
        self.ignore_index = int(ignore_index)
        self._pool: Optional[PersistentPool] = None

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mining={self.mining!r}, '
                f'alpha_lo={self.alpha_lo}, alpha_hi={self.alpha_hi}, '
                f'crf={self.crf!r}, crf_workers={self.crf_workers})')

    # ------------------------------------------------------------ CRFs
    def _workers(self) -> int:
        if self.crf_workers is not None:
            return self.crf_workers
        from mmengine.dist import get_world_size
        return max(1, (os.cpu_count() or 1) // max(1, get_world_size()))

    @property
    def pool(self) -> PersistentPool:
        """The CRF process pool (started on first use)."""
        if self._pool is None:
            self._pool = PersistentPool(self._workers())
        return self._pool

    def close(self) -> None:
        """Stop the CRF processes."""
        if self._pool is not None:
            self._pool.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_pool'] = None
        return state

    def crf_marginals(self, images: Sequence[np.ndarray], cams: Tensor,
                      present: Tensor,
                      alphas: Sequence[float]) -> List[Tensor]:
        """Dense-CRF marginals of ``[(1 - m)^alpha, P_fg]`` per alpha.

        Args:
            images (Sequence[np.ndarray]): B uint8 RGB (H, W, 3).
            cams (Tensor): (B, K, H, W) ``P_fg``.
            present (Tensor): (B, K) bool.
            alphas (Sequence[float]): Background powers.

        Returns:
            list[Tensor]: Per alpha, (B, K + 1, H, W) float32 marginals on
            the device of ``cams`` (0 for the absent classes).
        """
        B, K, H, W = cams.shape
        m = cams.max(dim=1).values
        items, keys = [], []
        for b in range(B):
            idx = present[b].nonzero()[:, 0]
            keys.append(torch.cat([idx.new_zeros(1), idx + 1]))
            fg = cams[b, idx].float()
            for a in alphas:
                probs = torch.cat([((1 - m[b])**a)[None].float(), fg])
                items.append((np.ascontiguousarray(images[b]),
                              probs.cpu().numpy().astype(np.float32)))
        qs = self.pool.map(_SoftmaxCRFJob(self.crf), items)
        out = [cams.new_zeros(B, K + 1, H, W) for _ in alphas]
        for b in range(B):
            for j in range(len(alphas)):
                q = torch.from_numpy(qs[b * len(alphas) + j]).to(cams.device)
                out[j][b, keys[b]] = q.to(out[j].dtype)
        return out

    # ------------------------------------------------------------ mining
    @torch.no_grad()
    def __call__(self, images: Sequence[np.ndarray], cams: Tensor,
                 img_labels: Tensor) -> Tensor:
        """Mine the reliable regions of a batch.

        Args:
            images (Sequence[np.ndarray]): B uint8 RGB images (H, W, 3)
                (the crops the CAMs belong to).
            cams (Tensor): (B, K, H, W) ``P_fg`` in [0, 1].
            img_labels (Tensor): (B, K) multi-hot image labels.

        Returns:
            Tensor: (B, H, W) int64 labels in ``{0..K, ignore_index}``.
        """
        cams = cams.float()
        if len(images) != cams.shape[0] or any(
                tuple(np.shape(img)) != (*cams.shape[-2:], 3)
                for img in images):
            raise ValueError(
                'images must be B uint8 (H, W, 3) arrays matching cams '
                f'{tuple(cams.shape)}, got '
                f'{[tuple(np.shape(i)) for i in images]}')
        present = img_labels.to(cams.device) > 0.5
        cams = cams * present[:, :, None, None].float()
        if self.mining == 'code':
            return self._mine_code(images, cams, present)
        return self._mine_paper(images, cams, present)

    def _mine_code(self, images: Sequence[np.ndarray], cams: Tensor,
                   present: Tensor) -> Tensor:
        ignore = self.ignore_index
        m = cams.max(dim=1).values
        bg = (1 - m)**self.cam_bg_power
        cam_img = torch.cat([bg[:, None], cams], dim=1).argmax(dim=1)
        q_lo, q_hi = self.crf_marginals(images, cams, present,
                                        (self.alpha_lo, self.alpha_hi))
        l_lo, l_hi = q_lo.argmax(dim=1), q_hi.argmax(dim=1)
        crf_label = l_lo.masked_fill(l_lo == 0, ignore)
        crf_label = crf_label.masked_fill(l_hi == 0, 0)
        r_cam = torch.zeros_like(m, dtype=torch.bool)
        for b in range(cams.shape[0]):
            for c in torch.unique(l_lo[b]).tolist():
                if c == 0:
                    r_cam[b] |= (cam_img[b] == 0) & (bg[b] > self.bg_sure)
                else:
                    v = cams[b, c - 1] * (cam_img[b] == c).float()
                    r_cam[b] |= top_ratio_region(v, v > 0, self.top_ratio,
                                                 self.min_cam)
        conf = torch.cat([q_hi[:, :1], q_lo[:, 1:]], dim=1).max(dim=1).values
        r_crf = conf >= self.crf_sure
        return torch.where(r_cam & r_crf, crf_label,
                           torch.full_like(crf_label, ignore))

    def _mine_paper(self, images: Sequence[np.ndarray], cams: Tensor,
                    present: Tensor) -> Tensor:
        ignore = self.ignore_index
        m = cams.max(dim=1).values
        scores = torch.cat([((1 - m)**self.alpha_lo)[:, None], cams], dim=1)
        score, cam_img = scores.max(dim=1)
        keep = torch.zeros_like(m, dtype=torch.bool)
        for b in range(cams.shape[0]):
            for c in torch.unique(cam_img[b]).tolist():
                keep[b] |= top_ratio_region(
                    score[b], cam_img[b] == c, self.top_ratio, inclusive=True)
        i_cam = cam_img.masked_fill(~keep, ignore)
        (q, ) = self.crf_marginals(images, cams, present, (self.alpha_lo, ))
        i_crf = q.argmax(dim=1)
        return torch.where(i_cam == i_crf, i_cam, torch.full_like(i_cam,
                                                                  ignore))
