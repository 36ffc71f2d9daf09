"""Backbone initialisation (``backbone_init``): every kind of file it recognises loads exactly the
213,072 MobileNetV1-0.25 parameters and the BatchNorm statistics; anything else is refused with
:class:`WeightsError`; ``none`` means random initialisation. All files are synthetic (tmp_path),
except the ImageNet backbone shipped in the package."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from featherface.errors import WeightsError
from featherface.models import create_model
from featherface.models.backbone import MobileNetV1
from featherface.training.config import TrainConfig
from featherface.training.trainer import Trainer, load_backbone_init
from featherface.models.weights import (
    BACKBONE_FORMAT,
    BUILTIN_BACKBONES,
    PACKAGE_WEIGHTS_DIR,
    load_backbone_weights,
    read_backbone_state_dict,
    save_weights,
    weights_dict,
)

from .conftest import random_backbone, randomize_bn_stats, to_retinaface_backbone_keys

N_PARAMS = 213_072
N_STATS = 54  # running_mean + running_var of 27 BatchNorms


def _assert_backbone_equals(backbone: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    got = backbone.state_dict()
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        if k.endswith("num_batches_tracked"):
            continue
        assert torch.equal(got[k], v), k


def _load_into_fresh(spec: object) -> tuple[MobileNetV1, str]:
    torch.manual_seed(999)  # a start unlike any source
    target = MobileNetV1()
    return target, load_backbone_weights(target, spec)  # type: ignore[arg-type]


def _shipped_state() -> dict[str, torch.Tensor]:
    fname, _ = BUILTIN_BACKBONES["imagenet"]
    return torch.load(PACKAGE_WEIGHTS_DIR / fname, map_location="cpu", weights_only=True)["state_dict"]


def test_backbone_has_213072_parameters() -> None:
    assert sum(p.numel() for p in MobileNetV1().parameters()) == N_PARAMS


# ---------------------------------------------------------------- the shipped ImageNet backbone
def test_shipped_imagenet_backbone_loads_exactly() -> None:
    assert TrainConfig().backbone_init == "imagenet"  # the default start
    shipped = _shipped_state()
    target, what = _load_into_fresh("imagenet")
    assert f"{N_PARAMS:,} parameters + {N_STATS} BatchNorm" in what and "ImageNet" in what
    _assert_backbone_equals(target, shipped)
    # really trained weights, not a fresh init: BN statistics far from (0, 1)
    var = target.stage2[0].pointwise[1].running_var
    assert not torch.allclose(var, torch.ones_like(var))
    # through the trainer's helper, into a whole model
    model = create_model("featherface-v1")
    assert f"{N_PARAMS:,} parameters" in load_backbone_init(model, "imagenet")
    _assert_backbone_equals(model.backbone, shipped)


def test_shipped_backbone_sha256_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import featherface.models.shipped as S
    import featherface.models.weights as W

    fname, digest = BUILTIN_BACKBONES["imagenet"]
    copy = tmp_path / fname
    shutil.copyfile(PACKAGE_WEIGHTS_DIR / fname, copy)
    monkeypatch.setattr(S, "PACKAGE_WEIGHTS_DIR", tmp_path)
    read_backbone_state_dict("imagenet")  # the untouched copy is fine

    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit inside the tensor data
    copy.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="fails its checksum"):
        read_backbone_state_dict("imagenet")
    with pytest.raises(WeightsError, match="checksum"):
        load_backbone_weights(MobileNetV1(), "imagenet")

    copy.unlink()
    with pytest.raises(WeightsError, match="missing from the installation"):
        read_backbone_state_dict("imagenet")

    # a wrong recorded digest refuses the genuine file too
    monkeypatch.setattr(S, "PACKAGE_WEIGHTS_DIR", PACKAGE_WEIGHTS_DIR)
    monkeypatch.setitem(W.BUILTIN_BACKBONES, "imagenet", (fname, "0" * 64))
    with pytest.raises(WeightsError, match="checksum"):
        read_backbone_state_dict("imagenet")
    assert digest != "0" * 64


# ---------------------------------------------------------------- files of every recognised kind
def test_imagenet_checkpoint_layout_with_numpy_scalars(tmp_path: Path) -> None:
    """RetinaFace's mobilenetV1X0.25_pretrain.tar: ``{"state_dict": {"module.stage1...."}}``, the
    release's block layout, a classifier, numpy scalars beside the tensors."""
    src = random_backbone(1)
    sd = to_retinaface_backbone_keys(src.state_dict(), "module.")
    sd["module.fc.weight"], sd["module.fc.bias"] = torch.randn(1000, 256), torch.randn(1000)
    path = tmp_path / "mobilenetV1X0.25_pretrain.tar"
    torch.save({"epoch": 90, "arch": "mobilenet0.25", "best_acc1": np.float64(46.58),
                "best_prec1": np.float32(0.46), "state_dict": sd}, path)
    target, what = _load_into_fresh(path)
    assert what.startswith("ImageNet MobileNetV1-0.25 checkpoint") and f"{N_PARAMS:,} parameters" in what
    _assert_backbone_equals(target, src.state_dict())


def test_retinaface_release_layout(retinaface_release: tuple[Path, dict[str, torch.Tensor]]) -> None:
    path, ours = retinaface_release
    target, what = _load_into_fresh(path)
    assert what.startswith("RetinaFace-mnet0.25 release file") and f"{N_PARAMS:,} parameters + {N_STATS}" in what
    _assert_backbone_equals(target, {k[len("backbone."):]: v for k, v in ours.items() if k.startswith("backbone.")})


def test_featherface_weights_file_and_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(2)
    model = randomize_bn_stats(create_model("featherface-v1"), 2)
    expected = model.backbone.state_dict()
    path = save_weights(model, tmp_path / "v1.pt")
    target, what = _load_into_fresh(path)
    assert what.startswith("FeatherFace weights of 'featherface-v1'") and f"{N_PARAMS:,} parameters" in what
    _assert_backbone_equals(target, expected)
    # a training checkpoint (the weights dict under "weights") is read the same way
    ckpt = tmp_path / "last.pt"
    torch.save({"format": "featherface-checkpoint", "model": model.state_dict(), "weights": weights_dict(model)}, ckpt)
    target, what = _load_into_fresh(ckpt)
    assert what.startswith("FeatherFace weights") and f"{N_PARAMS:,} parameters" in what
    _assert_backbone_equals(target, expected)


@pytest.mark.parametrize("layout", ["ours", "backbone.", "module.", "backbone-file"])
def test_plain_state_dicts(tmp_path: Path, layout: str) -> None:
    src = random_backbone(3)
    sd = {k: v.clone() for k, v in src.state_dict().items()}
    if layout == "backbone.":  # e.g. a whole-model state dict of ours: heads are ignored
        sd = {"backbone." + k: v for k, v in sd.items()} | {"head.heads.0.cls.weight": torch.zeros(4, 32, 1, 1)}
    elif layout == "module.":  # DataParallel prefix + the release's block layout
        sd = to_retinaface_backbone_keys(sd, "module.")
    obj: object = {"format": BACKBONE_FORMAT, "version": 1, "state_dict": sd} if layout == "backbone-file" else sd
    path = tmp_path / "backbone.pt"
    torch.save(obj, path)
    target, what = _load_into_fresh(path)
    assert f"{N_PARAMS:,} parameters + {N_STATS} BatchNorm" in what
    _assert_backbone_equals(target, src.state_dict())


# ---------------------------------------------------------------- refusals
def test_refusals_are_weights_errors(tmp_path: Path) -> None:
    def refused(obj: object | None, name: str, match: str, raw: bytes | None = None) -> None:
        p = tmp_path / name
        if raw is not None:
            p.write_bytes(raw)
        elif obj is not None:
            torch.save(obj, p)
        before = {k: v.clone() for k, v in target.state_dict().items()}
        with pytest.raises(WeightsError, match=match):
            load_backbone_weights(target, p)
        _assert_backbone_equals(target, before)  # nothing half-loaded

    target = MobileNetV1()
    refused(None, "missing.tar", "not found")
    refused(None, "labels.txt", "is a text file, not a weights file", raw=b"# 0--Parade/0_Parade_marchingband_1_849.jpg\n449 330 122 149\n")
    refused(None, "empty.pt", "empty file", raw=b"")
    refused([torch.zeros(3)], "list.pt", "not a backbone checkpoint")
    refused({"fc.weight": torch.zeros(10, 256), "epoch": 3}, "nobackbone.pt", "no MobileNetV1-0.25 backbone tensors")
    refused({"state_dict": {"layer1.0.conv1.weight": torch.zeros(64, 3, 7, 7)}}, "resnet.tar", "no MobileNetV1")
    wide = random_backbone(4, width=0.5).state_dict()  # MobileNetV1-0.5: same keys, twice the channels
    refused({"state_dict": to_retinaface_backbone_keys(wide, "module.")}, "mnet05.tar", r"does not fit.*shape")
    partial = {k: v for k, v in MobileNetV1().state_dict().items() if not k.startswith("stage3.")}
    refused(partial, "partial.pt", r"does not fit.*lacks")
    # a FeatherFace weights file that fails its own checksum is not silently used either
    bad = weights_dict(create_model("featherface-v1"))
    bad["sha256"] = "0" * 64
    refused(bad, "tampered.pt", "checksum mismatch")


# ---------------------------------------------------------------- through the trainer
def test_trainer_backbone_init_kinds(tiny_config: TrainConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shipped = _shipped_state()

    def built(spec: str | None) -> torch.nn.Module:
        trainer = Trainer(TrainConfig.from_dict({"backbone_init": spec}, tiny_config))
        torch.manual_seed(7)
        return trainer._build_model(resuming=False)

    _assert_backbone_equals(built("imagenet").backbone, shipped)
    assert "backbone initialised from imagenet: ImageNet MobileNetV1-0.25 (shipped" in capsys.readouterr().err
    for spec in ("none", "None", None):  # random initialisation: exactly a fresh model's
        model = built(spec)
        torch.manual_seed(7)
        _assert_backbone_equals(model.backbone, create_model("featherface-v2-ultra").backbone.state_dict())
        assert "backbone_init none: training from random initialisation" in capsys.readouterr().err
    with pytest.raises(WeightsError, match="not found"):
        built(str(tmp_path / "missing.tar"))
    # a resumed run takes the backbone from its checkpoint: the file is not even read
    resumed = Trainer(TrainConfig.from_dict({"backbone_init": str(tmp_path / "missing.tar")}, tiny_config))
    resumed._build_model(resuming=True)


def test_none_trains_from_random_init(tiny_config: TrainConfig, capsys: pytest.CaptureFixture[str]) -> None:
    res = Trainer(TrainConfig.from_dict({"backbone_init": "none", "max_steps": 1}, tiny_config)).fit()
    assert res.status == "max_steps" and res.global_step == 1
    err = capsys.readouterr().err
    assert "training from random initialisation" in err and "backbone initialised" not in err
