"""Puzzle-CAM tiling: split images into n x n pieces on the batch axis and
merge the pieces' CAM logits back."""
import math
from typing import Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['PuzzleTiler', 'pieces_per_side', 'tile_pieces', 'merge_pieces']

SIZE_MODES = ('strict', 'pad', 'resize')


def pieces_per_side(num_pieces: int) -> int:
    """``n = sqrt(num_pieces)``; ``num_pieces`` must be a square >= 1."""
    n = math.isqrt(int(num_pieces)) if num_pieces >= 1 else 0
    if n < 1 or n * n != num_pieces:
        raise ValueError(f'num_pieces must be a square number (4, 9, 16, '
                         f'...), got {num_pieces}')
    return n


def tile_pieces(x: Tensor, num_pieces: int = 4) -> Tensor:
    """Tile a batch into ``n x n`` equal pieces stacked on the batch axis.

    Pieces are in row-major order (``p = r * n + q``: for n = 2, p = 0
    top-left, 1 top-right, 2 bottom-left, 3 bottom-right) with the piece
    index outermost: ``out[p * B + b]`` is piece ``p`` of image ``b``.

    Args:
        x (Tensor): Images or maps, shape (B, C, H, W); H and W must be
            multiples of n.
        num_pieces (int): Number of pieces n * n. Defaults to 4.

    Returns:
        Tensor: Shape (n * n * B, C, H / n, W / n).
    """
    n = pieces_per_side(num_pieces)
    b, c, h, w = x.shape
    if h % n or w % n:
        raise ValueError(f'cannot tile a {h}x{w} input into {n}x{n} equal '
                         f'pieces: both sides must be multiples of {n}')
    x = x.reshape(b, c, n, h // n, n, w // n)
    # (b, c, r, i, q, j) -> (r, q, b, c, i, j)
    x = x.permute(2, 4, 0, 1, 3, 5)
    return x.reshape(n * n * b, c, h // n, w // n)


def merge_pieces(x: Tensor, num_pieces: int = 4) -> Tensor:
    """Inverse of :func:`tile_pieces`: place the pieces back on the grid.

    ``out[b, :, r*h:(r+1)*h, q*w:(q+1)*w] = x[(r * n + q) * B + b]``.

    Args:
        x (Tensor): Piece maps, shape (n * n * B, C, h, w).
        num_pieces (int): Number of pieces n * n. Defaults to 4.

    Returns:
        Tensor: Shape (B, C, n * h, n * w).
    """
    n = pieces_per_side(num_pieces)
    nb, c, h, w = x.shape
    if nb % (n * n):
        raise ValueError(f'batch of {nb} piece maps is not a multiple of '
                         f'num_pieces={n * n}')
    b = nb // (n * n)
    x = x.reshape(n, n, b, c, h, w)
    # (r, q, b, c, i, j) -> (b, c, r, i, q, j)
    x = x.permute(2, 3, 0, 4, 1, 5)
    return x.reshape(b, c, n * h, n * w)


def _pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def _strided(length: int, stride: int) -> int:
    """Number of feature cells of a stride-``stride`` network (ceil)."""
    return -(-length // stride)


@MODELS.register_module()
class PuzzleTiler(nn.Module):
    """Tiling, merging and size handling of the Puzzle-CAM branch.

    The merged tile CAM must have the size of the full-image CAM: for a
    network of output stride ``s`` this holds when both crop sides are
    multiples of ``n * s`` (32 for 2 x 2 pieces at OS16). ``size_mode``
    chooses what happens otherwise [inferred]:

    - ``'strict'`` (default): raise a ``ValueError`` naming the numbers and
      the fixes (:meth:`check_size`, called at model build time on the
      configured crop and at every forward on the batch).
    - ``'pad'``: zero-pad the (normalised) input at the bottom and right to
      the next multiple of ``n * s``; the tiles are cut from the padded
      image. With ``pad_full_image=True`` (pad before both forwards) the full
      forward also sees the padded image; with False it sees the original
      image. With ``crop_back=True`` both CAMs are then cropped back to the
      ``ceil(H / s) x ceil(W / s)`` cells of the original image (top-left,
      as the padding is bottom/right), so the losses see only cells of the
      real image; with False the losses use the padded grid (equivalent to
      the official container padding).
    - ``'resize'``: tiles of ``H / n`` (H must be a multiple of n); the
      merged map is bilinearly resized to the full CAM's size.

    Args:
        num_pieces (int): n * n pieces. Defaults to 4 (only 4 is validated
            by the paper; 9 and 16 work).
        stride (int): Output stride of the CAM. Defaults to 16.
        size_mode (str): ``'strict'``, ``'pad'`` or ``'resize'``.
            Defaults to ``'strict'``.
        pad_full_image (bool): ``'pad'`` mode: also pad the full-image
            input. Defaults to True.
        crop_back (bool): ``'pad'`` mode: crop both CAMs back to the cells
            of the unpadded image before the losses. Defaults to True.
    """

    def __init__(self,
                 num_pieces: int = 4,
                 stride: int = 16,
                 size_mode: str = 'strict',
                 pad_full_image: bool = True,
                 crop_back: bool = True) -> None:
        super().__init__()
        if size_mode not in SIZE_MODES:
            raise ValueError(f'puzzle_size_mode must be one of {SIZE_MODES}, '
                             f'got {size_mode!r}')
        if int(stride) < 1:
            raise ValueError(f'stride must be >= 1, got {stride}')
        self.n = pieces_per_side(num_pieces)
        self.num_pieces = int(num_pieces)
        self.stride = int(stride)
        self.size_mode = size_mode
        self.pad_full_image = pad_full_image
        self.crop_back = crop_back
        if size_mode == 'pad' and not (pad_full_image or crop_back):
            raise ValueError('puzzle pad mode with pad_full_image=False '
                             'needs crop_back=True (the full and merged '
                             'CAMs would differ in size)')

    @property
    def multiple(self) -> int:
        """Crop sides must be multiples of this (``n * stride``)."""
        return self.n * self.stride

    # ----------------------------------------------------------- checking
    def size_error(self,
                   size: Union[int, Sequence[int]],
                   where: str = 'input') -> Optional[str]:
        """The strict-mode error message for ``size`` (None if it fits)."""
        h, w = _pair(size)
        m, n, s = self.multiple, self.n, self.stride
        bad = [(name, v) for name, v in (('height', h), ('width', w)) if v % m]
        if not bad:
            return None
        name, v = bad[0]
        tile = -(-v // n)
        full, tile_cells = _strided(v, s), _strided(tile, s)
        lo, hi = (v // m) * m, -(-v // m) * m
        sizes = f'{lo} or {hi}' if lo > 0 else f'{hi}'
        return (f'Puzzle-CAM: {where} {h}x{w} cannot be split into {n}x{n} '
                f'pieces at output stride {s}: the {name} {v} is not a '
                f'multiple of {n}*{s}={m} (the full-image CAM has {full} '
                f'cells along it, the {n} merged tiles of {tile} px give '
                f'{n}*{tile_cells}={n * tile_cells}). Use a crop that is a '
                f'multiple of {m} (e.g. {sizes}), or set '
                f'puzzle_size_mode=\'pad\' (pads to '
                f'{-(-h // m) * m}x{-(-w // m) * m}) or \'resize\'.')

    def check_size(self,
                   size: Union[int, Sequence[int]],
                   where: str = 'input') -> None:
        """Raise ``ValueError`` in strict mode when ``size`` does not fit.
        """
        if self.size_mode != 'strict':
            return
        msg = self.size_error(size, where)
        if msg is not None:
            raise ValueError(msg)

    # ----------------------------------------------------------- forward
    def prepare(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Inputs of the two forwards: (full-image input, tiles).

        The tiles have shape (n * n * B, C, H' / n, W' / n) where H' x W'
        is the (possibly padded) input size.
        """
        h, w = inputs.shape[-2:]
        self.check_size((h, w), where='input batch')
        full = inputs
        if self.size_mode == 'pad':
            m = self.multiple
            ph, pw = -(-h // m) * m - h, -(-w // m) * m - w
            if ph or pw:
                padded = F.pad(inputs, (0, pw, 0, ph), value=0.0)
                full = padded if self.pad_full_image else inputs
                return full, tile_pieces(padded, self.num_pieces)
        elif self.size_mode == 'resize' and (h % self.n or w % self.n):
            raise ValueError(
                f'Puzzle-CAM resize mode: input {h}x{w} must still be '
                f'divisible into {self.n}x{self.n} equal tiles')
        return full, tile_pieces(inputs, self.num_pieces)

    def merge(self, cam: Tensor, tile_cams: Tensor,
              input_size: Sequence[int]) -> Tuple[Tensor, Tensor]:
        """Merge the tile CAMs and align both maps for the losses.

        Args:
            cam (Tensor): Full-image CAM logits (B, K, h, w).
            tile_cams (Tensor): Tile CAM logits (n * n * B, K, h', w').
            input_size (tuple[int]): (H, W) of the unpadded input.

        Returns:
            tuple[Tensor, Tensor]: ``(A, A_re)`` of equal shape.
        """
        cam_re = merge_pieces(tile_cams, self.num_pieces)
        if self.size_mode == 'resize':
            if cam_re.shape[-2:] != cam.shape[-2:]:
                cam_re = F.interpolate(
                    cam_re,
                    size=cam.shape[-2:],
                    mode='bilinear',
                    align_corners=False)
            return cam, cam_re
        if self.size_mode == 'pad':
            h, w = input_size
            if self.crop_back:
                vh, vw = _strided(h, self.stride), _strided(w, self.stride)
                cam, cam_re = cam[..., :vh, :vw], cam_re[..., :vh, :vw]
        if cam.shape[-2:] != cam_re.shape[-2:]:
            raise ValueError(
                f'Puzzle-CAM: the merged tile CAM is '
                f'{tuple(cam_re.shape[-2:])} but the full CAM is '
                f'{tuple(cam.shape[-2:])} for an input of '
                f'{tuple(input_size)}: is the CAM output stride really '
                f'{self.stride}? Set it in the PuzzleTiler config '
                f'(`stride`), or use puzzle_size_mode=\'resize\'.')
        return cam, cam_re
