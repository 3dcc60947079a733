"""Path index, affinities and the sparse random walk against hand-worked
cases and a dense (HW)^2 reference written from the IRN formulas
(path index / affinities and the random walk)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.refiners.random_walk import (PathIndex, RandomWalk,
                                                path_offsets, path_points,
                                                random_walk,
                                                random_walk_weights,
                                                upsample_rw)


# ----------------------------------------------------------------------
# offsets, paths, affinities (hand-worked)
# ----------------------------------------------------------------------
def test_offset_counts_and_path_lengths():
    # IRN path index: |D_5| = 34, |D_10| = 152, max path length 11 / 22
    for r, n, longest in ((5, 34, 11), (10, 152, 22)):
        pidx = PathIndex(r)
        assert pidx.num_offsets == n
        assert pidx.max_path_len == longest
        assert pidx.r_f == r - 1
    assert path_offsets(2) == [(0, 1), (1, -1), (1, 0), (1, 1)]


def test_paths_hand_worked():
    assert path_points(0, 3) == [(0, 0), (0, 1), (0, 2), (0, 3)]
    # (1, 1): (x - y)^2 / 2 < 1 keeps the whole 2x2 box
    assert path_points(1, 1) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # (3, 0): a vertical line
    assert path_points(3, 0) == [(0, 0), (1, 0), (2, 0), (3, 0)]
    # (2, 2): (2x - 2y)^2 / 8 < 1 <=> |x - y| <= 1 in the 3x3 box
    assert path_points(2, 2) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2),
                                 (2, 1), (2, 2)]
    # (1, -3): |x + 3y| <= 3 with y in 0..1, x in -3..0
    assert path_points(1, -3) == [(0, -3), (0, -2), (0, -1), (0, 0), (1, -3),
                                  (1, -2), (1, -1), (1, 0)]
    # (4, 4): |x - y| <= 1 in the 5x5 box
    assert len(path_points(4, 4)) == 5 + 4 + 4


def test_affinity_hand_worked():
    # 3 x 5 edge map, radius 2: offsets (0,1), (1,-1), (1,0), (1,1);
    # sources rows 0..1, cols 1..3
    e = torch.tensor([[0.0, 0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8, 0.9],
                      [0.0, 0.0, 0.9, 0.0, 0.0]])
    aff = PathIndex(2).affinity(e[None])
    assert aff.shape == (1, 4, 2, 3)
    # source (0, 1): (0,1) -> max(e[0,1], e[0,2]) = 0.2
    assert aff[0, 0, 0, 0] == pytest.approx(0.8)
    # (1,-1) from (0,1): box x 0..1, y 0..1, all 4 points -> max 0.6
    assert aff[0, 1, 0, 0] == pytest.approx(0.4)
    # (1,0) from (1,2): e[1,2]=0.7, e[2,2]=0.9 -> 0.1
    assert aff[0, 2, 1, 1] == pytest.approx(0.1)
    # (1,1) from (1,3): e[1,3], e[1,4], e[2,3], e[2,4] -> 0.9 -> 0.1
    assert aff[0, 3, 1, 2] == pytest.approx(0.1)
    # brute force over every entry
    pidx = PathIndex(2)
    for k, (dy, dx) in enumerate(pidx.offsets):
        for y in range(2):
            for x in range(3):
                m = max(
                    float(e[y + qy, x + 1 + qx])
                    for qy, qx in path_points(dy, dx))
                assert float(aff[0, k, y, x]) == pytest.approx(1 - m)


def test_pair_labels_hand_worked():
    # radius 2 on a 3 x 4 label map: sources rows 0..1, cols 1..2
    lab = torch.tensor([[0, 0, 1, 1], [0, 255, 1, 2], [0, 0, 1, 1]])
    pos_bg, pos_fg, neg = PathIndex(2).pair_labels(lab[None])
    assert pos_bg.shape == (1, 4, 2, 2)
    # source (0,1) = 0: (0,1)->(0,2)=1 neg; (1,-1)->(1,0)=0 bg;
    # (1,0)->(1,1)=255 invalid; (1,1)->(1,2)=1 neg
    assert pos_bg[0, :, 0, 0].tolist() == [False, True, False, False]
    assert neg[0, :, 0, 0].tolist() == [True, False, False, True]
    # source (0,2) = 1: ->(0,3)=1 fg; ->(1,1)=255; ->(1,2)=1 fg; ->(1,3)=2
    assert pos_fg[0, :, 0, 1].tolist() == [True, False, True, False]
    assert neg[0, :, 0, 1].tolist() == [False, False, False, True]
    # source (1,1) = 255: nothing is valid
    assert not (pos_bg | pos_fg | neg)[0, :, 1, 0].any()
    # source (1,2) = 1: ->(1,3)=2 neg; ->(2,1)=0 neg; ->(2,2)=1 fg;
    # ->(2,3)=1 fg
    assert neg[0, :, 1, 1].tolist() == [True, True, False, False]
    assert pos_fg[0, :, 1, 1].tolist() == [False, False, True, True]
    assert int(pos_bg.sum()) == 1


# ----------------------------------------------------------------------
# random walk vs the dense reference
# ----------------------------------------------------------------------
def dense_random_walk(cam, edge, beta=10.0, exp_times=8, radius=5):
    """The IRN random walk, literally: pad the edge with 1 (r left/right/
    bottom), path affinities of the D_r pairs inside the image, symmetric
    dense A with A_ii = 1, T = A^β / colsum, T^(2^exp_times) by squaring,
    x(1-e) T*.
    Independent of the implementation under test (loops over pixels)."""
    K, h, w = cam.shape
    r = radius
    rf = int(np.ceil(r)) - 1
    e_pad = F.pad(edge, (r, r, 0, r), value=1.0)
    hp, wp = e_pad.shape
    n = h * w
    A = torch.eye(n, dtype=cam.dtype)
    for dy, dx in path_offsets(r):
        pts = path_points(dy, dx)
        for y in range(0, hp - rf):
            for x in range(rf, wp - rf):
                ys, xs, yd, xd = y, x - r, y + dy, x + dx - r
                if not (0 <= ys < h and 0 <= xs < w and 0 <= yd < h
                        and 0 <= xd < w):
                    continue
                a = 1.0 - max(float(e_pad[y + qy, x + qx]) for qy, qx in pts)
                i, j = ys * w + xs, yd * w + xd
                A[i, j] = A[j, i] = a
    Ab = A**beta
    T = Ab / Ab.sum(dim=0, keepdim=True)
    for _ in range(exp_times):
        T = T @ T
    x = (cam * (1 - edge)).reshape(K, n)
    return (x @ T).reshape(K, h, w)


@pytest.mark.parametrize('seed,size,k', [(0, (9, 11), 2), (1, (12, 7), 3)])
def test_sparse_equals_dense_float64(seed, size, k):
    """Tolerance: relative max error <= 1e-9 in float64 (the required bound
    is <= 1e-5)."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    cam = torch.rand(k, h, w, generator=g, dtype=torch.float64)
    edge = torch.rand(h, w, generator=g, dtype=torch.float64)**3
    ref = dense_random_walk(cam, edge, beta=10.0, exp_times=5)
    out = random_walk(cam[None], edge[None], beta=10.0, exp_times=5)[0]
    rel = float((out - ref).abs().max() / ref.abs().max())
    assert rel <= 1e-9, rel


def test_sparse_float32_vs_dense_float64_default_params():
    """exp_times 8 / beta 10 / radius 5 (IRN defaults) on a 16 x 20 map:
    fp32 sparse vs fp64 dense, max |Δ| <= 1e-4 after the global max
    normalisation and identical argmax labels."""
    g = torch.Generator().manual_seed(3)
    cam = torch.rand(3, 16, 20, generator=g, dtype=torch.float64)
    edge = torch.zeros(16, 20, dtype=torch.float64)
    edge[:, 9] = 0.95  # a wall: the walk must not cross it freely
    edge += 0.05 * torch.rand(16, 20, generator=g, dtype=torch.float64)
    ref = dense_random_walk(cam, edge)
    out = random_walk(cam[None].float(), edge[None].float())[0].double()
    ref_n, out_n = ref / ref.max(), out / out.max()
    assert float((out_n - ref_n).abs().max()) <= 1e-4
    assert torch.equal(ref_n.argmax(0), out_n.argmax(0))


def test_float32_compute_dtype_error_bound():
    """The documented bound of compute_dtype=float32: <= 3e-4 of the
    maximum from float64 on 32 x 32 maps with the defaults, same argmax."""
    g = torch.Generator().manual_seed(0)
    cam = torch.rand(3, 32, 32, generator=g, dtype=torch.float64)
    edge = torch.rand(32, 32, generator=g, dtype=torch.float64)**3
    ref = dense_random_walk(cam, edge)
    out = random_walk(
        cam[None].float(), edge[None].float(),
        compute_dtype=torch.float32)[0].double()
    err = float((out / out.max() - ref / ref.max()).abs().max())
    assert 1e-6 < err <= 3e-4, err  # float32 rounding, within the bound
    assert torch.equal(out.argmax(0), ref.argmax(0))
    # the config key of the module: the same float32 path, and float64 by
    # default (float32 CAMs in, float64 inside: far below the float32 bound)
    mod32 = RandomWalk(compute_dtype='float32')(cam[None].float(),
                                                edge[None].float())[0]
    assert torch.equal(mod32.double(), out)
    mod64 = RandomWalk()(cam[None].float(), edge[None].float())[0].double()
    err64 = float((mod64 / mod64.max() - ref / ref.max()).abs().max())
    assert err64 <= 1e-6, err64
    with pytest.raises(ValueError, match='compute_dtype must be one of'):
        RandomWalk(compute_dtype='half')


def test_batch_with_padding_equals_single_images():
    """Images of different sizes / class counts batch with edge-1 and CAM-0
    padding (as in the IRN random walk) and give the single-image
    results."""
    g = torch.Generator().manual_seed(5)
    f64 = dict(generator=g, dtype=torch.float64)
    a_cam, a_edge = torch.rand(2, 10, 13, **f64), torch.rand(10, 13, **f64)**2
    b_cam, b_edge = torch.rand(1, 7, 9, **f64), torch.rand(7, 9, **f64)**2
    cams = torch.zeros(2, 2, 10, 13, dtype=torch.float64)
    edges = torch.ones(2, 10, 13, dtype=torch.float64)
    cams[0], edges[0] = a_cam, a_edge
    cams[1, :1, :7, :9], edges[1, :7, :9] = b_cam, b_edge
    out = random_walk(cams, edges, exp_times=6)
    ra = random_walk(a_cam[None], a_edge[None], exp_times=6)[0]
    rb = random_walk(b_cam[None], b_edge[None], exp_times=6)[0]
    # float64: equal up to rounding (fp32 differs by ~1e-5 relative)
    assert torch.allclose(out[0], ra, rtol=1e-10, atol=0)
    assert torch.allclose(out[1, :1, :7, :9], rb, rtol=1e-10, atol=0)
    assert float(out[1, 1].abs().max()) == 0.0


def test_weights_are_local_and_normalised():
    edge = torch.rand(1, 32, 40)
    wts = random_walk_weights(edge, radius=5, beta=10)
    # O(N x 69) weights, never (HW)^2
    assert wts.shape == (1, 69, 32, 40)
    assert torch.allclose(wts.sum(1), torch.ones(1, 32, 40), atol=1e-6)
    assert float(wts.min()) >= 0
    # a strong edge everywhere: no mass moves
    wts = random_walk_weights(torch.ones(1, 8, 8), radius=5, beta=10)
    assert torch.allclose(wts[:, 0], torch.ones(1, 8, 8))


def test_module_and_upsample():
    cam = torch.rand(1, 2, 6, 8)
    edge = torch.rand(1, 6, 8)
    rw = RandomWalk(beta=10, exp_times=3)(cam, edge)
    assert torch.allclose(rw, random_walk(cam, edge, exp_times=3))
    up = upsample_rw(rw[0], (22, 30))
    assert up.shape == (2, 22, 30)
    assert float(up.max()) == pytest.approx(1.0)  # one global max
    ref = F.interpolate(
        rw, size=(24, 32), mode='bilinear',
        align_corners=False)[0, :, :22, :30]
    assert torch.allclose(up, ref / ref.max())
    assert upsample_rw(torch.zeros(0, 6, 8), (22, 30)).shape == (0, 22, 30)
