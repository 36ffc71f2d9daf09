"""Shared fixtures: tiny synthetic datasets, fast training configs (2 CPU cores), and synthetic
weights files of every kind the trainer reads (teachers, backbone starts). Nothing here reads
../shared: the RetinaFace release layout is produced by inverting our own key mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from featherface.data.synthetic import make_synthetic_dataset
from featherface.models import create_model
from featherface.models.backbone import MobileNetV1, retinaface_backbone_key_map
from featherface.models.retinaface_keys import convert_retinaface_state_dict
from featherface.models.weights import save_weights
from featherface.training.config import TrainConfig

from tests.models.retinaface_release import to_release_state_dict


@pytest.fixture(scope="session")
def tiny_labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 synthetic 96x96 pictures (RetinaFace label.txt with landmarks)."""
    root = tmp_path_factory.mktemp("tiny_synthetic")
    return make_synthetic_dataset(root, 10, img_size=96, seed=3, min_face=12, max_face=48, max_faces=3)


@pytest.fixture
def tiny_config(tiny_labels: Path, tmp_path: Path) -> TrainConfig:
    """64x64 crops, batch 4 (10 images -> 3 steps per epoch: 4, 4, 2), no workers, no bars.

    ``backbone_init`` keeps its default, the shipped ImageNet backbone (deterministic and ~10 ms)."""
    return TrainConfig(label_file=str(tiny_labels), img_size=64, batch_size=4, workers=0, epochs=3, lr=5e-3,
                       warmup_epochs=1, schedule="step", milestones=[2], output_dir=str(tmp_path / "run"),
                       progress=False, tensorboard=False, device="cpu", seed=7, log_every=1)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # 2 spinning OpenMP threads on a shared 2-core box can be 20x slower


def randomize_bn_stats(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Non-trivial BatchNorm statistics (and affine parameters), so a load that skips them shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
    return model


def random_backbone(seed: int, width: float = 0.25) -> MobileNetV1:
    torch.manual_seed(seed)
    return randomize_bn_stats(MobileNetV1(width), seed)


def to_retinaface_backbone_keys(backbone_sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Our MobileNetV1 keys -> the RetinaFace / ImageNet-checkpoint layout (``stage1.1.0.weight``...)."""
    inverse = {v: k for k, v in retinaface_backbone_key_map(MobileNetV1()).items()}
    return {prefix + inverse.get(k, k): v.clone() for k, v in backbone_sd.items()}


def to_retinaface_release(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A ``retinaface-mnet025`` state dict in the release layout (the shared test helper)."""
    return to_release_state_dict(state_dict)


@pytest.fixture(scope="session")
def retinaface_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A synthetic RetinaFace-mnet0.25 release file (plain state dict, release key names) and the
    ``retinaface-mnet025`` state dict it must load as."""
    torch.manual_seed(5)
    model = randomize_bn_stats(create_model("retinaface-mnet025"), 5)
    ours = {k: v.detach().clone() for k, v in model.state_dict().items()}
    release = to_retinaface_release(ours)
    converted = convert_retinaface_state_dict(release)  # the inversion is exact
    assert converted.keys() == ours.keys() and all(torch.equal(converted[k], ours[k]) for k in ours)
    path = tmp_path_factory.mktemp("retinaface") / "mobilenet0.25_Final.pth"
    torch.save(release, path)
    return path, ours


@pytest.fixture(scope="session")
def teacher_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FeatherFace V2 Ultra weights file (random weights, non-trivial BN statistics): a teacher
    with the student's priors."""
    torch.manual_seed(21)
    model = randomize_bn_stats(create_model("featherface-v2-ultra"), 21)
    return save_weights(model, tmp_path_factory.mktemp("teacher") / "teacher.pt")
