import pytest
import torch

from featherface.errors import WeightsError
from featherface.models import create_model
from featherface.models.weights import read_weights, save_weights
from featherface.training.soup import average_weights, save_average


@pytest.fixture(scope="module")
def two_v2(tmp_path_factory):
    d = tmp_path_factory.mktemp("soup")
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        m = create_model("featherface-v2-ultra")
        for buf in m.buffers():  # distinct BatchNorm statistics, so their mean is checked too
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
        paths.append(save_weights(m, d / f"s{seed}.pt"))
    return paths


def test_mix_is_the_weighted_mean_and_integers_come_from_the_first(two_v2, tmp_path):
    a, b = (read_weights(p)["state_dict"] for p in two_v2)
    out = save_average(two_v2, tmp_path / "mix.pt", mix=[1, 3])
    obj = read_weights(out)  # the fresh checksum verifies
    key = next(k for k, v in a.items() if v.is_floating_point() and v.numel() > 10 and not torch.equal(v, b[k]))
    assert torch.allclose(obj["state_dict"][key], 0.25 * a[key] + 0.75 * b[key], atol=1e-6)
    bn = next(k for k in a if k.endswith("running_var"))
    assert torch.allclose(obj["state_dict"][bn], 0.25 * a[bn] + 0.75 * b[bn], atol=1e-6)
    ints = [k for k, v in a.items() if not v.is_floating_point()]
    assert ints and all(torch.equal(obj["state_dict"][k], a[k]) for k in ints)
    assert [p["share"] for p in obj["meta"]["average_of"]] == [0.25, 0.75]


def test_equal_shares_by_default(two_v2):
    a, b = (read_weights(p)["state_dict"] for p in two_v2)
    avg = average_weights(two_v2)["state_dict"]
    key = next(k for k, v in a.items() if v.is_floating_point() and not torch.equal(v, b[k]))
    assert torch.allclose(avg[key], (a[key] + b[key]) / 2, atol=1e-6)


def test_refuses_other_architectures_bad_mix_and_overwriting_an_input(two_v2, tmp_path):
    v1 = save_weights(create_model("featherface-v1"), tmp_path / "v1.pt")
    with pytest.raises(WeightsError, match="different architecture"):
        average_weights([two_v2[0], v1])
    with pytest.raises(ValueError, match="one per file"):
        average_weights(two_v2, mix=[1.0])
    with pytest.raises(ValueError, match=">= 0"):
        average_weights(two_v2, mix=[1.0, -1.0])
    with pytest.raises(ValueError, match="at least two"):
        average_weights(two_v2[:1])
    with pytest.raises(ValueError, match="one of the inputs"):
        save_average(two_v2, two_v2[1])
