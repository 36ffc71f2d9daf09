"""RetinaFace-mnet0.25 as a model of the package: size, the release-file key mapping (strict both
ways), and, with ../shared, the authors' weights finding the astronaut's face."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from featherface import FaceDetector
from featherface.errors import WeightsError
from featherface.io.paths import shared_dir
from featherface.models import create_model
from featherface.models.fpn import FPN
from featherface.models.retinaface_keys import convert_retinaface_state_dict, looks_like_retinaface
from featherface.models.weights import load_weights, read_weights
from tests.models.retinaface_release import to_release_state_dict, write_release_file

RELEASE = shared_dir() / "weights" / "retinaface_mnet025_Final.pth"
ASTRONAUT_FACE = (178.0, 56.0, 270.0, 176.0)


def _lively(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random BatchNorm statistics and head biases, so a wrong key mapping changes the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            elif isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return _lively(create_model("retinaface-mnet025"), 0)


@pytest.fixture(scope="module")
def release_file(model, tmp_path_factory):
    return write_release_file(model, tmp_path_factory.mktemp("rf") / "mobilenet0.25_Final.pth")


def test_parameter_count_and_structure(model):
    assert sum(p.numel() for p in model.parameters()) == 426_608
    assert isinstance(model.bifpn, FPN) and model.config.neck == "fpn"
    assert model.backbone_cbam is None and model.bifpn_cbam is None
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 96))
    assert out["bbox"].shape == (1, 8 * 12 * 2 + 4 * 6 * 2 + 2 * 3 * 2, 4) and out["ldm"].shape[-1] == 10


def test_release_layout_round_trips_key_for_key(model):
    sd = model.state_dict()
    release = to_release_state_dict(sd)
    assert looks_like_retinaface(release)
    assert len(release) == len(sd) == 300  # the release file holds 300 tensors (with BN statistics)
    assert any(k.startswith("fpn.output3.") for k in release) and "LandmarkHead.2.conv1x1.weight" in release
    back = convert_retinaface_state_dict(release)
    assert set(back) == set(sd) and all(torch.equal(back[k], sd[k]) for k in sd)
    # DataParallel's "module." prefix is accepted too
    assert set(convert_retinaface_state_dict(to_release_state_dict(sd, module_prefix=True))) == set(sd)


def test_synthetic_release_file_loads_strictly_with_identical_outputs(model, release_file):
    obj = read_weights(release_file)
    assert obj["model"] == "retinaface-mnet025" and "release file" in obj["meta"]["source"]
    fresh = create_model("retinaface-mnet025").eval()
    load_weights(fresh, release_file)  # strict_arch and strict load_state_dict
    x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(1)) * 50
    with torch.no_grad():
        a, b = model(x), fresh(x)
    for k in ("bbox", "cls", "ldm"):
        assert torch.equal(a[k], b[k]), k
    det = FaceDetector("retinaface-mnet025", weights=release_file)
    assert det.weights_path == release_file and det.config.neck == "fpn"


def test_release_file_refused_for_another_architecture(release_file):
    with pytest.raises(WeightsError, match="retinaface-mnet025"):
        load_weights(create_model("featherface-v2-ultra"), release_file)


def test_unknown_key_is_refused(model, tmp_path):
    sd = to_release_state_dict(model.state_dict())
    for extra in ("fpn.output4.0.weight", "ssh1.conv9X9.0.weight", "ClassHead.3.conv1x1.bias", "optimizer_step"):
        bad = dict(sd)
        bad[extra] = torch.zeros(1)
        p = tmp_path / "extra.pth"
        torch.save(bad, p)
        with pytest.raises(WeightsError, match="not a RetinaFace-mnet0.25 release file"):
            read_weights(p)


def test_non_tensor_entry_is_refused(model, tmp_path):
    bad = to_release_state_dict(model.state_dict())
    bad["epoch"] = 7
    p = tmp_path / "epoch.pth"
    torch.save(bad, p)
    with pytest.raises(WeightsError, match="not named tensors"):
        read_weights(p)


def _missing_key_file(model, tmp_path) -> Path:
    sd = to_release_state_dict(model.state_dict())
    del sd["fpn.merge1.1.running_var"]
    p = tmp_path / "missing.pth"
    torch.save(sd, p)
    return p


def test_missing_key_is_refused_before_use(model, tmp_path):
    p = _missing_key_file(model, tmp_path)
    with pytest.raises(WeightsError, match="missing.pth"):
        load_weights(create_model("retinaface-mnet025"), p)
    with pytest.raises(WeightsError):
        FaceDetector("retinaface-mnet025", weights=p)


def test_missing_key_is_refused_by_read_weights(model, tmp_path):
    with pytest.raises(WeightsError):
        read_weights(_missing_key_file(model, tmp_path))


def _iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.shared
def test_release_file_loads_and_finds_the_astronaut(example_image):
    if not RELEASE.is_file():
        pytest.skip(f"{RELEASE} is not present")
    real = torch.load(RELEASE, map_location="cpu", weights_only=True)
    ours = create_model("retinaface-mnet025").state_dict()
    assert set(real) == set(to_release_state_dict(ours))  # the synthetic layout is the real one
    det = FaceDetector("retinaface-mnet025", weights=RELEASE)
    faces = det.detect(example_image)
    assert len(faces) == 1 and faces[0].score > 0.99
    assert _iou(faces[0].box, ASTRONAUT_FACE) > 0.5
    (lex, _), (rex, _), (nx, _), _, _ = faces[0].landmarks
    assert lex < nx < rex
