"""Path-index affinities and the sparse class-boundary random walk.

IRN style: the edge map of the boundary network gives the affinities, the
random walk propagates the CAM with them.

**Offsets and paths.** ``D_r = {(0, dx): 1 <= dx < r} ∪ {(dy, dx): 1 <= dy <
r, |dx| < r, dy² + dx² < r²}`` (``|D_5| = 34``, ``|D_10| = 152``). The path
of ``d = (dy, dx)`` is every integer point ``(y, x)`` of the bounding box of
``(0, 0)`` and ``d`` with ``(dy·x - dx·y)² / (dy² + dx²) < 1``. The affinity
of a source pixel ``i`` and ``j = i + d`` is ``a = 1 - max_{q ∈ path(d)}
e[i + q]`` for the edge probability map ``e``.

**Random walk** (radius 5, β = 10, ``exp_times`` = 8). The official code
builds the dense ``N x N`` (``N = h·w``) matrix ``A`` (``A_ij = A_ji = a_ij``
for every offset pair, ``A_ii = 1``), ``T = A^β / colsum(A^β)`` and squares
``T`` ``exp_times`` times. Here ``T`` is never formed: since ``A`` is
symmetric, one step ``x <- x T`` is

``x_j <- Σ_{δ ∈ {0} ∪ ±D_r} w_δ(j) x_{j+δ}``, ``w_δ(j) = A^β_{j, j+δ} / d_j``,
``d_j = Σ_δ A^β_{j, j+δ}``,

a weighted gather over the ``2·|D_r| + 1`` (69 for r = 5) neighbours, done
``2 ** exp_times`` times on ``(B, K, h, w)`` tensors with shifted views.
Memory is ``O(B·h·w·(69 + K))``; the edge map is padded with 1.0, which gives
affinity 0 to every pair that leaves the map [code], so images of
different sizes batch by padding the edge with 1 and the CAM with 0.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...utils.checks import check_choices

__all__ = [
    'path_offsets', 'path_points', 'PathIndex', 'random_walk_weights',
    'propagate', 'random_walk', 'RandomWalk', 'upsample_rw'
]


def path_offsets(radius: int) -> List[Tuple[int, int]]:
    """The offsets ``D_r`` as ``(dy, dx)``.

    Args:
        radius (int): Radius r.

    Returns:
        list[tuple[int, int]]: ``(0, 1) .. (0, r-1)`` then the rows
        ``dy = 1 .. r-1`` with ``dx`` ascending.
    """
    r = float(radius)
    rc = int(math.ceil(r))
    offs = [(0, dx) for dx in range(1, rc) if dx < r]
    for dy in range(1, rc):
        for dx in range(-rc + 1, rc):
            if abs(dx) < r and dy * dy + dx * dx < r * r:
                offs.append((dy, dx))
    return offs


def path_points(dy: int, dx: int) -> List[Tuple[int, int]]:
    """Integer points of the path from ``(0, 0)`` to ``(dy, dx)``.

    Every ``(y, x)`` of the bounding box of the two end points with
    ``(dy·x - dx·y)² / (dy² + dx²) < 1`` (distance to the segment's line
    below one pixel), both end points included.

    Args:
        dy (int): Row offset.
        dx (int): Column offset.

    Returns:
        list[tuple[int, int]]: The points, row-major.
    """
    if dy == 0 and dx == 0:
        return [(0, 0)]
    norm = dy * dy + dx * dx
    pts = []
    for y in range(min(0, dy), max(0, dy) + 1):
        for x in range(min(0, dx), max(0, dx) + 1):
            if (dy * x - dx * y)**2 < norm:  # (..)^2 / norm < 1, exact
                pts.append((y, x))
    return pts


class PathIndex:
    """Offsets, paths and the source window of the path-index affinities.

    With a map of size ``h x w``, sources are the rows ``0 .. h-r_f-1`` and
    the columns ``r_f .. w-r_f-1`` (``r_f = ceil(r) - 1``), so that every
    destination ``i + d`` lies inside the map [code].

    Args:
        radius (int): Radius r (10 for training, 5 for the random walk).
    """

    def __init__(self, radius: int) -> None:
        if radius < 2:
            raise ValueError(f'radius must be >= 2, got {radius}.')
        self.radius = radius
        self.r_f = int(math.ceil(radius)) - 1
        self.offsets = path_offsets(radius)
        self.paths = [path_points(dy, dx) for dy, dx in self.offsets]
        self.max_path_len = max(len(p) for p in self.paths)
        # distinct path points -> index, and for every offset its points
        points = sorted({q for p in self.paths for q in p})
        self.points = points
        index = {q: i for i, q in enumerate(points)}
        self.path_point_ids = [[index[q] for q in p] for p in self.paths]

    @property
    def num_offsets(self) -> int:
        """``|D_r|``."""
        return len(self.offsets)

    def source_size(self, h: int, w: int) -> Tuple[int, int]:
        """``(h_s, w_s)`` of the source window of an ``h x w`` map."""
        hs, ws = h - self.r_f, w - 2 * self.r_f
        if hs <= 0 or ws <= 0:
            raise ValueError(
                f'map {h}x{w} is too small for radius {self.radius} (needs '
                f'at least {self.r_f + 1}x{2 * self.r_f + 1}).')
        return hs, ws

    def affinity(self, edge: Tensor) -> Tensor:
        """Path-index affinities ``1 - max_{q ∈ path(d)} e[i + q]``.

        Args:
            edge (Tensor): Edge probabilities ``(B, h, w)`` or
                ``(B, 1, h, w)`` (differentiable).

        Returns:
            Tensor: ``(B, |D_r|, h_s, w_s)``; entry ``[b, k, y, x]`` is the
            affinity of the source pixel ``(y, x + r_f)`` and
            ``(y + dy_k, x + r_f + dx_k)``.
        """
        if edge.ndim == 4:
            if edge.shape[1] != 1:
                raise ValueError(f'edge must have one channel, got '
                                 f'{tuple(edge.shape)}.')
            edge = edge[:, 0]
        h, w = edge.shape[-2:]
        hs, ws = self.source_size(h, w)
        rf = self.r_f
        views = [
            edge[:, qy:qy + hs, rf + qx:rf + qx + ws] for qy, qx in self.points
        ]
        out = []
        for ids in self.path_point_ids:
            m = views[ids[0]]
            for i in ids[1:]:
                m = torch.maximum(m, views[i])
            out.append(m)
        return 1.0 - torch.stack(out, dim=1)

    def pair_labels(self,
                    label: Tensor,
                    ignore_index: int = 255) -> Tuple[Tensor, Tensor, Tensor]:
        """Affinity targets of a label map at the source/destination pairs.

        Args:
            label (Tensor): ``(B, h, w)`` or ``(B, 1, h, w)`` integer map
                (0 background, 1..K, ``ignore_index`` unknown).
            ignore_index (int): Defaults to 255.

        Returns:
            tuple[Tensor]: bool ``pos_bg``, ``pos_fg``, ``neg``, each
            ``(B, |D_r|, h_s, w_s)``: valid pairs (both labels known) with
            ``L_i = L_j = 0``, ``L_i = L_j > 0`` and ``L_i != L_j``.
        """
        if label.ndim == 4:
            label = label[:, 0]
        h, w = label.shape[-2:]
        hs, ws = self.source_size(h, w)
        rf = self.r_f
        src = label[:, :hs, rf:rf + ws].unsqueeze(1)
        dst = torch.stack([
            label[:, dy:dy + hs, rf + dx:rf + dx + ws]
            for dy, dx in self.offsets
        ],
                          dim=1)
        valid = (src != ignore_index) & (dst != ignore_index)
        same = src == dst
        pos_bg = valid & same & (src == 0)
        pos_fg = valid & same & (src != 0)
        neg = valid & ~same
        return pos_bg, pos_fg, neg


# ----------------------------------------------------------------------
# random walk
# ----------------------------------------------------------------------
def _neighbour_offsets(radius: int) -> List[Tuple[int, int]]:
    """``{0} ∪ D_r ∪ -D_r`` in the order used by the weight tensor."""
    offs = path_offsets(radius)
    return [(0, 0)] + offs + [(-dy, -dx) for dy, dx in offs]


def _shift(x: Tensor, dy: int, dx: int, fill: float = 0.0) -> Tensor:
    """``out[..., y, x] = x[..., y + dy, x + dx]`` (``fill`` outside)."""
    h, w = x.shape[-2:]
    out = torch.full_like(x, fill)
    ys, ye = max(0, -dy), min(h, h - dy)
    xs, xe = max(0, -dx), min(w, w - dx)
    if ys < ye and xs < xe:
        out[..., ys:ye, xs:xe] = x[..., ys + dy:ye + dy, xs + dx:xe + dx]
    return out


def random_walk_weights(edge: Tensor,
                        radius: int = 5,
                        beta: float = 10.0) -> Tensor:
    """Normalised transition weights of every pixel's neighbourhood.

    Args:
        edge (Tensor): ``(B, h, w)`` edge probabilities (stride 4).
        radius (int): Neighbourhood radius. Defaults to 5.
        beta (float): Affinity power β. Defaults to 10.

    Returns:
        Tensor: ``(B, 2|D_r| + 1, h, w)``; channel ``k`` holds
        ``w_δ(j) = A^β_{j, j+δ} / d_j`` for the ``k``-th offset of
        ``{0} ∪ D_r ∪ -D_r`` (each channel sums to 1 over ``k``).
    """
    if edge.ndim == 4:
        edge = edge[:, 0]
    if edge.ndim != 3:
        raise ValueError(f'edge must be (B, h, w), got {tuple(edge.shape)}.')
    pidx = PathIndex(radius)
    rf = pidx.r_f
    # pad with 1 (edge): pairs leaving the map get affinity 0
    e_pad = F.pad(edge, (rf, rf, 0, rf), value=1.0)
    aff = pidx.affinity(e_pad)  # (B, D, h, w): sources = the original pixels
    ab = aff.clamp_min(0).pow(beta)
    # the weight of -d at j is that of +d at the source j - d
    neg = torch.stack([
        _shift(ab[:, k], -dy, -dx) for k, (dy, dx) in enumerate(pidx.offsets)
    ],
                      dim=1)
    weights = torch.cat([torch.ones_like(ab[:, :1]), ab, neg], dim=1)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Drop weights below eps^2 (the self weight is >= 1/69): they change
    # the result by < 2e4 eps^2 relative after 256 steps, and on CPUs their
    # products would be denormal numbers, which are ~100x slower.
    tiny = torch.finfo(weights.dtype).eps**2
    return weights.masked_fill_(weights < tiny, 0.0)


def propagate(x: Tensor,
              weights: Tensor,
              steps: int,
              radius: int = 5) -> Tensor:
    """``steps`` random-walk steps ``x <- x T`` with gathered weights.

    Args:
        x (Tensor): ``(B, K, h, w)``.
        weights (Tensor): ``(B, 2|D_r| + 1, h, w)`` from
            :func:`random_walk_weights`.
        steps (int): Number of steps (``2 ** exp_times``).
        radius (int): The radius the weights were built with.

    Returns:
        Tensor: ``(B, K, h, w)``.
    """
    offs = _neighbour_offsets(radius)
    if weights.shape[1] != len(offs):
        raise ValueError(f'weights have {weights.shape[1]} channels, radius '
                         f'{radius} needs {len(offs)}.')
    p = int(math.ceil(radius)) - 1
    h, w = x.shape[-2:]
    wts = [weights[:, k:k + 1] for k in range(len(offs))]
    xp = F.pad(x, (p, p, p, p))
    inner = xp[..., p:p + h, p:p + w]
    for _ in range(int(steps)):
        acc = inner * wts[0]
        for k in range(1, len(offs)):
            dy, dx = offs[k]
            acc.addcmul_(wts[k], xp[..., p + dy:p + dy + h, p + dx:p + dx + w])
        inner.copy_(acc)  # xp keeps its zero border
    return inner.clone()


def random_walk(
        cam: Tensor,
        edge: Tensor,
        beta: float = 10.0,
        exp_times: int = 8,
        radius: int = 5,
        weights: Optional[Tensor] = None,
        compute_dtype: Optional[torch.dtype] = torch.float64) -> Tensor:
    """Class-boundary random walk of stride-4 CAMs, sparse.

    Computes ``rw = (x ⊙ (1 - e)) T^(2^exp_times)`` per channel without
    forming ``T``. The caller upsamples and normalises the result
    (:func:`upsample_rw`).

    Precision: the 256 steps are averages whose rounding errors add up
    along the conserved direction, so fp32 propagation drifts by ~2e-4 of
    the maximum (measured on 48x48 maps, more on larger ones) while the
    official 8 fp32 squarings drift by ~6e-5. The weights and the
    propagation are therefore computed in ``compute_dtype`` (float64 by
    default; the step is memory-bound, float64 costs ~2x) and the result is
    cast back to the dtype of ``cam``: it matches a float64 dense reference
    to ~1e-12 relative.

    Args:
        cam (Tensor): ``(B, K, h, w)`` max-normalised foreground CAMs (no
            background channel). Zero channels pad images with fewer
            classes.
        edge (Tensor): ``(B, h, w)`` or ``(B, 1, h, w)`` edge probabilities.
            Pad batches of different sizes with 1.0 (and the CAM with 0).
        beta (float): Affinity power. Defaults to 10.
        exp_times (int): ``T`` is raised to ``2 ** exp_times``.
            Defaults to 8.
        radius (int): Neighbourhood radius. Defaults to 5.
        weights (Tensor, optional): Precomputed
            :func:`random_walk_weights` of ``edge`` (in ``compute_dtype``).
        compute_dtype (torch.dtype, optional): dtype of the weights and the
            propagation; None uses the dtype of ``cam``. Defaults to
            ``torch.float64``. Error bound of ``torch.float32`` (halves the
            memory traffic): after the global-max normalisation it is
            within 3e-4 of a float64 reference (measured 0.9e-4 to 1.9e-4
            on 32x32 maps with the defaults; the official dense float32
            squarings are 0.4e-4 to 0.7e-4 off), which exceeds a 1e-4
            tolerance; the argmax labels agreed on every pixel measured.
            The float64 default is within 1e-9 (relative).

    Returns:
        Tensor: ``(B, K, h, w)`` in the dtype of ``cam``.
    """
    if edge.ndim == 4:
        edge = edge[:, 0]
    if cam.ndim != 4 or edge.shape != (cam.shape[0], ) + cam.shape[2:]:
        raise ValueError(f'cam (B, K, h, w) and edge (B, h, w) must match, '
                         f'got {tuple(cam.shape)} and {tuple(edge.shape)}.')
    dtype = compute_dtype or cam.dtype
    edge = edge.to(dtype)
    if weights is None:
        weights = random_walk_weights(edge, radius, beta)
    x = cam.to(dtype) * (1.0 - edge).unsqueeze(1)
    out = propagate(x, weights.to(dtype), 2**int(exp_times), radius)
    return out.to(cam.dtype)


@MODELS.register_module()
class RandomWalk(nn.Module):
    """Random-walk refiner module (config-buildable wrapper of
    :func:`random_walk`).

    Args:
        beta (float): Affinity power β. Defaults to 10.
        exp_times (int): ``2 ** exp_times`` propagation steps.
            Defaults to 8.
        radius (int): Neighbourhood radius. Defaults to 5.
        compute_dtype (str, optional): ``'float64'`` (default, within 1e-9
            of the dense reference), ``'float32'`` (half the memory traffic;
            within 3e-4 of a float64 reference, see :func:`random_walk`)
            or None (the dtype of the CAM).
    """

    def __init__(self,
                 beta: float = 10.0,
                 exp_times: int = 8,
                 radius: int = 5,
                 compute_dtype: Optional[str] = 'float64') -> None:
        super().__init__()
        check_choices(compute_dtype=(compute_dtype,
                                     ('float64', 'float32', None)))
        if not float(beta) > 0:
            raise ValueError(f'beta must be > 0, got {beta}.')
        if int(exp_times) != exp_times or exp_times < 0:
            raise ValueError(f'exp_times must be an integer >= 0, got '
                             f'{exp_times}.')
        if int(radius) != radius or radius < 1:
            raise ValueError(f'radius must be an integer >= 1, got '
                             f'{radius}.')
        self.beta = beta
        self.exp_times = exp_times
        self.radius = radius
        self.compute_dtype = compute_dtype

    @torch.no_grad()
    def forward(self, cam: Tensor, edge: Tensor) -> Tensor:
        """See :func:`random_walk`."""
        dtype = (getattr(torch, self.compute_dtype)
                 if self.compute_dtype else None)
        return random_walk(cam, edge, self.beta, self.exp_times, self.radius,
                           compute_dtype=dtype)

    def extra_repr(self) -> str:
        return (f'beta={self.beta}, exp_times={self.exp_times}, '
                f'radius={self.radius}, compute_dtype={self.compute_dtype}')


def upsample_rw(rw: Tensor, size: Sequence[int]) -> Tensor:
    """Random-walk map to full resolution.

    ``bilinear(rw, ×4, align_corners=False)[:, :H, :W]`` divided by its
    single global maximum over all classes and pixels (unchanged when the
    maximum is 0).

    Args:
        rw (Tensor): ``(|P|, h, w)`` stride-4 maps.
        size (Sequence[int]): ``(H, W)``.

    Returns:
        Tensor: ``(|P|, H, W)`` float32.
    """
    H, W = int(size[0]), int(size[1])
    if rw.shape[0] == 0:
        return rw.new_zeros((0, H, W), dtype=torch.float32)
    h, w = rw.shape[-2:]
    up = F.interpolate(
        rw[None].float(),
        size=(4 * h, 4 * w),
        mode='bilinear',
        align_corners=False)[0, :, :H, :W]
    m = up.max()
    return up / m if float(m) > 0 else up
