import torch

from featherface.models.backbone import MobileNetV1, load_backbone_checkpoint


def test_backbone_exact_parameter_count():
    assert sum(p.numel() for p in MobileNetV1().parameters()) == 213_072


def test_backbone_levels_channels_and_strides():
    feats = MobileNetV1()(torch.zeros(1, 3, 256, 320))
    assert [f.shape[1] for f in feats] == [64, 128, 256]
    assert [tuple(f.shape[-2:]) for f in feats] == [(32, 40), (16, 20), (8, 10)]


def test_load_retinaface_layout_checkpoint_with_module_prefix():
    src = MobileNetV1()
    for p in src.parameters():
        torch.nn.init.normal_(p)
    # rebuild the RetinaFace-release key layout: conv_dw = Sequential(dw, bn, act, pw, bn, act)
    theirs = {}
    for k, v in src.state_dict().items():
        k2 = (k.replace("depthwise.0", "0").replace("depthwise.1", "1")
              .replace("pointwise.0", "3").replace("pointwise.1", "4"))
        theirs["module." + k2] = v
    theirs["module.fc.weight"] = torch.zeros(1000, 256)
    dst = MobileNetV1()
    loaded = load_backbone_checkpoint(dst, theirs)
    assert len(loaded) == len([k for k in src.state_dict()])
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a, b), k
