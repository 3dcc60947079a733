"""Puzzle tiling / merging (of Puzzle-CAM) against hand-built
references, and the size handling of PuzzleTiler."""
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.utils import (PuzzleTiler, merge_pieces, pieces_per_side,
                                 tile_pieces)


@pytest.mark.parametrize('num_pieces,size', [(4, (12, 18)), (9, (12, 18)),
                                             (16, (8, 20))])
def test_tile_merge_identity(num_pieces, size):
    g = torch.Generator().manual_seed(num_pieces)
    x = torch.randn(3, 5, *size, generator=g)
    n = pieces_per_side(num_pieces)
    tiles = tile_pieces(x, num_pieces)
    assert tiles.shape == (n * n * 3, 5, size[0] // n, size[1] // n)
    assert torch.equal(merge_pieces(tiles, num_pieces), x)
    # and the other way round
    assert torch.equal(
        tile_pieces(merge_pieces(tiles, num_pieces), num_pieces), tiles)


def test_piece_order_hand_written():
    # image b = 100 * b + [[0..3], [4..7], [8..11], [12..15]]
    x = (
        torch.arange(16.).view(1, 1, 4, 4) +
        100 * torch.arange(2.).view(2, 1, 1, 1))
    t = tile_pieces(x, 4)
    assert t.shape == (8, 1, 2, 2)
    expected_img0 = {
        0: [[0, 1], [4, 5]],  # top-left
        1: [[2, 3], [6, 7]],  # top-right
        2: [[8, 9], [12, 13]],  # bottom-left
        3: [[10, 11], [14, 15]],  # bottom-right
    }
    for p, block in expected_img0.items():
        for b in range(2):  # piece index outermost: x_t[p * B + b]
            torch.testing.assert_close(
                t[p * 2 + b, 0],
                torch.tensor(block, dtype=torch.float32) + 100 * b)


def test_piece_order_against_slicing_n3():
    x = torch.randn(2, 2, 9, 6)
    n, B = 3, 2
    t = tile_pieces(x, 9)
    for r in range(n):
        for q in range(n):
            for b in range(B):
                ref = x[b, :, r * 3:(r + 1) * 3, q * 2:(q + 1) * 2]
                assert torch.equal(t[(r * n + q) * B + b], ref)


def _pool_conv(x, weight, bias, s):
    """Per-tile translation-equivariant CAM: stride-s average pooling and a
    1x1 conv."""
    return F.conv2d(F.avg_pool2d(x, s, s), weight, bias)


@pytest.mark.parametrize('num_pieces', [4, 9])
def test_merged_logits_equal_hand_built_reference(num_pieces):
    g = torch.Generator().manual_seed(1)
    s, n = 4, pieces_per_side(num_pieces)
    x = torch.randn(2, 3, 8 * n, 4 * n * 2, generator=g)
    weight = torch.randn(5, 3, 1, 1, generator=g)
    bias = torch.randn(5, generator=g)
    merged = merge_pieces(
        _pool_conv(tile_pieces(x, num_pieces), weight, bias, s), num_pieces)
    # reference by explicit loops over the cells of the full image
    B, _, H, W = x.shape
    ref = torch.empty(B, 5, H // s, W // s)
    for b in range(B):
        for i in range(H // s):
            for j in range(W // s):
                cell = x[b, :, i * s:(i + 1) * s, j * s:(j + 1) * s]
                mean = cell.mean(dim=(1, 2))
                ref[b, :, i, j] = weight[:, :, 0, 0] @ mean + bias
    torch.testing.assert_close(merged, ref, rtol=1e-5, atol=1e-5)


def test_tile_merge_errors():
    with pytest.raises(ValueError, match='square'):
        pieces_per_side(6)
    with pytest.raises(ValueError, match='multiples of 2'):
        tile_pieces(torch.zeros(1, 1, 5, 4), 4)
    with pytest.raises(ValueError, match='multiple of num_pieces=4'):
        merge_pieces(torch.zeros(6, 1, 2, 2), 4)


def test_size_error_names_numbers_and_fix():
    msg = PuzzleTiler(4, stride=16).size_error((176, 176), where='crop')
    for part in ('176x176', '2*16=32', '11 cells', '2*6=12', '160 or 192',
                 "puzzle_size_mode='pad'", '192x192'):
        assert part in msg, (part, msg)
    # the official issue: crop 496 -> 31 vs 32 cells
    msg = PuzzleTiler(4, stride=16).size_error((496, 496))
    assert '31 cells' in msg and '2*16=32' in msg
    assert PuzzleTiler(4, stride=16).size_error((512, 320)) is None
    # OS8: multiples of 16
    assert PuzzleTiler(4, stride=8).size_error((176, 176)) is None
    PuzzleTiler(4, 16, size_mode='pad').check_size((176, 176))  # no error
    with pytest.raises(ValueError, match='puzzle_size_mode'):
        PuzzleTiler(size_mode='crop')
    with pytest.raises(ValueError, match='crop_back=True'):
        PuzzleTiler(size_mode='pad', pad_full_image=False, crop_back=False)


def test_tiler_pad_prepare_and_crop_back():
    x = torch.randn(2, 3, 40, 56)
    tiler = PuzzleTiler(4, stride=8, size_mode='pad')  # multiple 16
    full, tiles = tiler.prepare(x)
    assert full.shape == (2, 3, 48, 64)
    assert torch.equal(full[..., :40, :56], x)
    assert (full[..., 40:, :] == 0).all() and (full[..., 56:] == 0).all()
    assert torch.equal(merge_pieces(tiles, 4), full)
    cam = torch.randn(2, 4, 6, 8)
    cam_re = torch.randn(8, 4, 3, 4)
    a, a_re = tiler.merge(cam, cam_re, (40, 56))
    # ceil(40 / 8) x ceil(56 / 8) cells of the real image, top-left
    assert torch.equal(a, cam[..., :5, :7])
    assert torch.equal(a_re, merge_pieces(cam_re, 4)[..., :5, :7])
    # without padding the full image is the input itself
    tiler2 = PuzzleTiler(4, stride=8, size_mode='pad', pad_full_image=False)
    full2, tiles2 = tiler2.prepare(x)
    assert full2 is x and torch.equal(tiles2, tiles)
    # padded-grid variant keeps all cells
    tiler3 = PuzzleTiler(4, stride=8, size_mode='pad', crop_back=False)
    a3, _ = tiler3.merge(cam, cam_re, (40, 56))
    assert a3.shape[-2:] == (6, 8)


def test_tiler_resize_and_mismatch():
    tiler = PuzzleTiler(4, stride=16, size_mode='resize')
    cam = torch.randn(1, 2, 11, 11)
    cam_re = torch.randn(4, 2, 6, 6)
    a, a_re = tiler.merge(cam, cam_re, (176, 176))
    assert a_re.shape == (1, 2, 11, 11)
    with pytest.raises(ValueError, match='equal tiles'):
        tiler.prepare(torch.zeros(1, 3, 45, 44))
    strict = PuzzleTiler(4, stride=8)
    with pytest.raises(ValueError, match='output stride really 8'):
        strict.merge(cam, cam_re, (176, 176))
