"""benchmarks/level_score_offset.py moves exactly the face logits of the levels it names."""

from __future__ import annotations

import pytest
import torch

from featherface.models.registry import create_model
from featherface.models.weights import weights_dict

from tests.scripts import load_script


@pytest.fixture(scope="module")
def offset():
    return load_script("benchmarks/level_score_offset.py")


@pytest.mark.parametrize("name", ["featherface-v2-ultra", "featherface-v1"])
def test_offsets_raise_only_the_named_levels_face_logits(offset, name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, pretrained=False).eval()
    obj = weights_dict(model)
    shifted = offset.with_level_offsets(obj, [1.5, 0.0, -0.5])
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)["cls"]
        model.load_state_dict(shifted["state_dict"])
        after = model(x)["cls"]
    n8 = 2 * (64 // 8) ** 2
    n16 = 2 * (64 // 16) ** 2
    delta = after - before
    assert torch.allclose(delta[0, :n8, 1], torch.full((n8,), 1.5), atol=1e-5)
    assert torch.allclose(delta[0, n8:n8 + n16], torch.zeros(n16, 2), atol=1e-5)
    assert torch.allclose(delta[0, n8 + n16:, 1], torch.full((delta.shape[1] - n8 - n16,), -0.5), atol=1e-5)
    assert torch.allclose(delta[..., 0], torch.zeros_like(delta[..., 0]), atol=1e-5)  # background logits untouched
    assert shifted["sha256"] != obj["sha256"] and obj["state_dict"] is not shifted["state_dict"]
