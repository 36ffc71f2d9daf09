import torch

from featherface.models.bifpn import BiFPN, FastNormalizedFusion
from featherface.models.cbam import CBAM, SharedCBAMManager
from featherface.models.heads import SharedMultiHead
from featherface.models.shuffle import ChannelShuffle, channel_shuffle
from featherface.models.ssh import SSH


def test_cbam_keeps_shape_and_reduction():
    m = CBAM(64, reduction=32)
    assert m.channel.mlp[0].out_channels == 2
    x = torch.randn(2, 64, 8, 8)
    assert m(x).shape == x.shape


def test_shared_manager_shares_same_width_and_spatial_conv():
    shared = SharedCBAMManager((32, 32, 32))
    assert len(shared.blocks) == 1 and shared.block(0) is shared.block(2)
    mixed = SharedCBAMManager((64, 128, 256))
    assert len(mixed.blocks) == 3
    assert mixed.block(0).spatial is mixed.block(2).spatial
    unshared = SharedCBAMManager((32, 32, 32), share=False)
    assert len(unshared.blocks) == 3 and unshared.block(0).spatial is not unshared.block(1).spatial


def test_channel_shuffle_is_a_permutation_and_invertible():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    y = channel_shuffle(x, 4)
    assert y.flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert torch.equal(channel_shuffle(y, 2), x)
    assert sum(p.numel() for p in ChannelShuffle(4).parameters()) == 0


def test_ssh_grouped_uses_quarter_params_of_plain():
    plain = sum(p.numel() for p in SSH(32, 32, groups=1).parameters())
    grouped = SSH(32, 32, groups=4)
    g = sum(p.numel() for p in grouped.parameters())
    conv_plain = plain - 96 * 2 // 2  # BN params identical in both; compare conv weights
    assert g < plain / 3
    assert grouped(torch.randn(1, 32, 10, 10)).shape == (1, 32, 10, 10)
    assert conv_plain > 0


def test_fast_normalized_fusion_weights_are_normalised():
    f = FastNormalizedFusion(2)
    with torch.no_grad():
        f.weight.copy_(torch.tensor([3.0, -1.0]))  # negative weight is clipped to 0
    a, b = torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 5.0)
    assert torch.allclose(f([a, b]), a * 3 / (3 + 1e-4))


def test_bifpn_output_sizes_follow_inputs():
    m = BiFPN((64, 128, 256), 32, num_layers=2, lateral_groups=4)
    feats = [torch.randn(1, 64, 25, 40), torch.randn(1, 128, 13, 20), torch.randn(1, 256, 7, 10)]
    outs = m(feats)
    assert [tuple(o.shape) for o in outs] == [(1, 32, 25, 40), (1, 32, 13, 20), (1, 32, 7, 10)]


def test_heads_flatten_in_prior_order():
    head = SharedMultiHead(8, 0, num_levels=1, num_anchors=2)
    lvl = head.heads[0]
    with torch.no_grad():
        for conv in (lvl.cls, lvl.bbox, lvl.ldm):
            conv.weight.zero_()
            conv.bias.copy_(torch.arange(conv.out_channels, dtype=torch.float32))
    out = head([torch.zeros(1, 8, 2, 3)])
    assert out["bbox"].shape == (1, 2 * 3 * 2, 4)
    # anchor 0 of every cell gets bias 0..3, anchor 1 gets 4..7
    assert out["bbox"][0, 0].tolist() == [0, 1, 2, 3] and out["bbox"][0, 1].tolist() == [4, 5, 6, 7]
