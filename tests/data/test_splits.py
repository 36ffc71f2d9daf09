"""The hold-out hash split: one function shared by autolabel and the human-label evaluation."""

from __future__ import annotations

import hashlib

import numpy as np

from featherface.autolabel import split_holdout
from featherface.data.labels import ImageAnnotation
from featherface.data.splits import holdout_fraction, in_holdout


def _ann(path: str) -> ImageAnnotation:
    return ImageAnnotation(path=path, boxes=np.zeros((0, 4), np.float32), landmarks=np.zeros((0, 5, 2), np.float32),
                           has_landmarks=np.zeros(0, bool))


def test_formula_is_the_documented_one():
    for seed in (0, 1, 7):
        for p in ("caltech-webfaces/images/pic00020.jpg", "a/b.jpg", "ü.png"):
            expect = int(hashlib.sha256(f"{seed}:{p}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            assert holdout_fraction(p, seed) == expect
            assert 0.0 <= holdout_fraction(p, seed) <= 1.0
    assert holdout_fraction("x.jpg") == holdout_fraction("x.jpg", seed=0)
    assert holdout_fraction("x.jpg", 0) != holdout_fraction("x.jpg", 1)


def test_split_holdout_is_bit_identical_to_holdout_fraction():
    paths = [f"caltech-webfaces/images/pic{i:05d}.jpg" for i in range(400)] + ["photos/1.jpg", "faces/é.jpg"]
    anns = [_ann(p) for p in paths]
    for frac, seed in ((0.1, 0), (0.3, 2), (0.0, 0)):
        train, val = split_holdout(anns, frac, seed)
        assert [a.path for a in val] == [p for p in paths if holdout_fraction(p, seed) < frac]
        assert [a.path for a in train] == [p for p in paths if not in_holdout(p, frac, seed)]
    _, val = split_holdout(anns, 0.1, 0)
    assert 20 <= len(val) <= 60  # about a tenth
