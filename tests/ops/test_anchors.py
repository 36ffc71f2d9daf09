import pytest
import torch

from featherface.ops.anchors import PriorBox, feature_map_sizes, generate_priors, num_priors


def test_16800_priors_at_640():
    p = generate_priors(640, 640)
    assert p.shape == (16800, 4)
    assert num_priors(640, 640) == 16800


def test_prior_order_level_row_col_anchor():
    p = generate_priors(64, 64)  # levels 8x8, 4x4, 2x2
    # first two priors: cell (0,0) of level 0, sizes 16 and 32
    assert torch.allclose(p[0], torch.tensor([4 / 64, 4 / 64, 16 / 64, 16 / 64]))
    assert torch.allclose(p[1], torch.tensor([4 / 64, 4 / 64, 32 / 64, 32 / 64]))
    assert torch.allclose(p[2, :2], torch.tensor([12 / 64, 4 / 64]))  # next column
    assert torch.allclose(p[16, :2], torch.tensor([4 / 64, 12 / 64]))  # next row (8 cols * 2 anchors)
    assert torch.allclose(p[128], torch.tensor([8 / 64, 8 / 64, 64 / 64, 64 / 64]))  # level 1 starts


def test_non_square_and_non_multiple_sizes():
    assert feature_map_sizes(200, 300) == [(25, 38), (13, 19), (7, 10)]
    p = generate_priors(200, 300)
    assert p.shape[0] == 2 * (25 * 38 + 13 * 19 + 7 * 10)
    # widths normalised by width, heights by height
    assert torch.allclose(p[0, 2:], torch.tensor([16 / 300, 16 / 200]))


def test_prior_cache_and_bad_size():
    pb = PriorBox()
    assert pb(64, 64) is pb(64, 64)
    with pytest.raises(ValueError):
        generate_priors(0, 64)
