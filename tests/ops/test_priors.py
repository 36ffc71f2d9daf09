"""Priors and decoding in numpy (the detector's side) against the torch side of training."""

import numpy as np
import torch

from featherface.ops.anchors import generate_priors
from featherface.ops.boxes import decode_boxes, decode_landmarks
from featherface.ops.priors import PriorGrid, decode_box_array, decode_landmark_array, num_priors, prior_array


def test_prior_array_is_the_tensor_priors_and_the_grid_caches_float32() -> None:
    for h, w in ((640, 640), (200, 300), (480, 672)):
        np.testing.assert_array_equal(prior_array(h, w).astype(np.float32), generate_priors(h, w).numpy())
        assert prior_array(h, w).shape == (num_priors(h, w), 4)
    grid = PriorGrid()
    assert grid(64, 96) is grid(64, 96) and grid(64, 96).dtype == np.float32
    assert prior_array(64, 64, clip=True).max() <= 1.0 < prior_array(64, 64).max()


def test_array_decoding_equals_the_tensor_decoding() -> None:
    """The detector decodes numpy arrays, training decodes tensors: one rule, to float rounding."""
    torch.manual_seed(1)
    priors = generate_priors(320, 480)
    loc, ldm = torch.randn(priors.shape[0], 4), torch.randn(priors.shape[0], 10)
    np.testing.assert_allclose(decode_box_array(loc.numpy(), priors.numpy()), decode_boxes(loc, priors).numpy(),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(decode_landmark_array(ldm.numpy(), priors.numpy()),
                               decode_landmarks(ldm, priors).numpy(), rtol=1e-6, atol=1e-7)
