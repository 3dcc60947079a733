"""CF: the certain filter of RS+EPM.

Turns foreground maps ``M ∈ [0, 1]^{K x h x w}`` into hard labels with an
uncertain band. Classes absent from the image labels are zeroed first;
``s = max_k M_k``, ``k* = argmax_k M_k`` (ties: the lowest class).

``mode='default'``::

    label = k* + 1   if s >= c_th            certain foreground
            0        if s <  u_th            certain background
            255      otherwise               uncertain

When a per-image ``c_th`` falls below ``u_th`` the foreground rule wins.

``mode='bg_gamma'`` (variant a): the scores ``[bg, M_1 .. M_K]`` with
``bg = (1 - s)^bg_gamma``; the label is their argmax (0 = background,
``k + 1`` = class ``k``; ties go to the background) and it is certain
when the winning score is ``>= c_th``, else 255. Our reading: ``u_th``
plays no role, and a background pixel is certain exactly when the bg
channel wins with a score ``>= c_th``. With the defaults (γ 2, c 0.55) a
pixel is certain background for ``s <= 1 - sqrt(0.55) ≈ 0.258``, which
contains the default rule's ``s < 0.10``, and certain foreground for
``s >= 0.55`` as in the default rule.

``mode='margin'`` (variant b): the scores ``[1 - s, M_1 .. M_K]`` (a
plain complement background, ``bg_gamma`` is not used) with top-1 ``t1``
and top-2 ``t2``; the label is the argmax when ``t1 >= c_th`` and ``t1 -
t2 >= u_th``, else 255 ("uncertain when top-1 − top-2 < u_th"). With one
present class this is the default rule's foreground ``s >= c_th`` (the
margin to ``1 - s`` then is ``2s - 1 >= 0.1``) and background ``s <= 1 -
c_th``; with several classes a foreground pixel also needs a margin of
``u_th`` to the runner-up class.

Pixels outside ``valid`` (crop padding) are ``ignore_index`` in every
mode.

Evidence: the thresholds c 0.55 / u 0.10 are [code] (the official
experiment tag ``CF(c=0.55, u=0.10)``); the rule itself and both variants
are [inferred], including the readings stated above.
"""
from typing import Optional, Union

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['CertainFilter']

_MODES = ('default', 'bg_gamma', 'margin')


@MODELS.register_module()
class CertainFilter(nn.Module):
    """Certain / uncertain hard labels from foreground maps (no grad).

    Args:
        certain_th (float): c_th, the certain threshold. Defaults to 0.55
            [code: experiment tag].
        uncertain_th (float): u_th: the background threshold (``'default'``)
            or the top-1/top-2 margin (``'margin'``); unused by
            ``'bg_gamma'``. Defaults to 0.10 [code: experiment tag].
        mode (str): ``'default'``, ``'bg_gamma'`` (variant a) or
            ``'margin'`` (variant b), see the module docstring. Defaults to
            ``'default'`` [inferred].
        bg_gamma (float): Exponent of ``bg = (1 - s)^bg_gamma`` in
            ``'bg_gamma'`` mode. Defaults to 2.0 [inferred].
        ignore_index (int): Label of uncertain and invalid pixels.
            Defaults to 255.
    """

    def __init__(self,
                 certain_th: float = 0.55,
                 uncertain_th: float = 0.10,
                 mode: str = 'default',
                 bg_gamma: float = 2.0,
                 ignore_index: int = 255) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f'mode must be one of {_MODES}, got {mode!r}.')
        self.certain_th = float(certain_th)
        self.uncertain_th = float(uncertain_th)
        self.mode = mode
        self.bg_gamma = float(bg_gamma)
        self.ignore_index = int(ignore_index)

    @torch.no_grad()
    def forward(self,
                fg_maps: Tensor,
                img_labels: Optional[Tensor] = None,
                valid: Optional[Tensor] = None,
                certain_th: Optional[Union[Tensor, float]] = None) -> Tensor:
        """Hard labels with the uncertain band set to ``ignore_index``.

        Args:
            fg_maps (Tensor): ``(B, K, h, w)`` foreground maps in ``[0, 1]``
                (channel ``k`` = mask class ``k + 1``).
            img_labels (Tensor, optional): ``(B, K)`` multi-hot; absent
                classes are zeroed before filtering. None keeps all.
            valid (Tensor, optional): ``(B, h, w)`` bool, False pixels get
                ``ignore_index``. None = all valid.
            certain_th (Tensor | float, optional): Overrides c_th, either
                one value or one per image ``(B,)``.

        Returns:
            Tensor: ``(B, h, w)`` int64 in ``{0 .. K, ignore_index}``.
        """
        if fg_maps.ndim != 4:
            raise ValueError(f'fg_maps must be (B, K, h, w), got '
                             f'{tuple(fg_maps.shape)}.')
        b, k, h, w = fg_maps.shape
        if k == 0:
            raise ValueError('fg_maps needs at least one class channel.')
        maps = fg_maps.detach()
        if not maps.is_floating_point():
            maps = maps.float()
        if img_labels is not None:
            if img_labels.shape != (b, k):
                raise ValueError(f'img_labels must be {(b, k)}, got '
                                 f'{tuple(img_labels.shape)}.')
            present = (img_labels.detach() > 0).to(maps.dtype)
            maps = maps * present[..., None, None]
        c_th = self._certain_th(certain_th, b, maps)
        s = maps.amax(dim=1)
        if self.mode == 'default':
            # argmax returns the first maximal index (ties: lowest class)
            label = torch.where(s >= c_th,
                                maps.argmax(dim=1) + 1,
                                torch.zeros_like(s, dtype=torch.long))
            uncertain = (s < c_th) & (s >= self.uncertain_th)
        else:
            bg = 1.0 - s
            if self.mode == 'bg_gamma':
                bg = bg.pow(self.bg_gamma)
            scores = torch.cat([bg[:, None], maps], dim=1)  # (B, 1 + K, ..)
            label = scores.argmax(dim=1)  # ties go to the lower index
            top = scores.topk(2, dim=1).values
            uncertain = top[:, 0] < c_th
            if self.mode == 'margin':
                uncertain |= (top[:, 0] - top[:, 1]) < self.uncertain_th
        label = label.masked_fill(uncertain, self.ignore_index)
        if valid is not None:
            if valid.shape != (b, h, w):
                raise ValueError(f'valid must be {(b, h, w)}, got '
                                 f'{tuple(valid.shape)}.')
            label = label.masked_fill(~valid.bool(), self.ignore_index)
        return label

    def _certain_th(self, certain_th: Optional[Union[Tensor, float]], b: int,
                    like: Tensor) -> Union[Tensor, float]:
        """c_th as a float or a ``(B, 1, 1)`` tensor."""
        if certain_th is None:
            return self.certain_th
        if not torch.is_tensor(certain_th):
            return float(certain_th)
        th = certain_th.detach().to(device=like.device, dtype=like.dtype)
        if th.numel() == 1:
            return th.reshape(1, 1, 1)
        if th.shape != (b, ):
            raise ValueError(f'certain_th must be a scalar or ({b},), got '
                             f'{tuple(th.shape)}.')
        return th.reshape(b, 1, 1)

    def extra_repr(self) -> str:
        return (f'certain_th={self.certain_th}, '
                f'uncertain_th={self.uncertain_th}, mode={self.mode!r}, '
                f'bg_gamma={self.bg_gamma}, '
                f'ignore_index={self.ignore_index}')
