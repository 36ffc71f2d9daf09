"""extra_sources / label_repeat: configs that mix labelled sets, checked before a run and built as one set."""

from __future__ import annotations

from pathlib import Path

import pytest

from featherface.data.mixed import MixedFaceDataset
from featherface.data.synthetic import make_synthetic_dataset
from featherface.errors import ConfigError
from featherface.training.config import TrainConfig, resolve_config
from featherface.training.data import build_datasets


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a = make_synthetic_dataset(tmp_path_factory.mktemp("a"), n_images=4, img_size=96, seed=1)
    b = make_synthetic_dataset(tmp_path_factory.mktemp("b"), n_images=5, img_size=96, seed=2)
    return a, b


def test_mixed_set_from_config(two_sets: tuple[Path, Path]) -> None:
    a, b = two_sets
    cfg = TrainConfig.from_dict({
        "label_file": str(a), "img_size": 64, "label_repeat": 0.5,
        "extra_sources": [{"label_file": str(b), "repeat": 2, "augment": {"crop_ref_size": 64, "zoom_out_prob": 0.0}}],
    })
    ds, _ = build_datasets(cfg, None, None, lambda: Path("unused"))
    assert isinstance(ds, MixedFaceDataset) and len(ds) == 2 + 10
    second = ds.sources[1][0]
    assert second.transform.crop_ref_size == 64 and second.transform.zoom_out_prob == 0.0
    assert ds[len(ds) - 1][0].shape == (3, 64, 64)


def test_single_source_unchanged(two_sets: tuple[Path, Path]) -> None:
    ds, _ = build_datasets(TrainConfig.from_dict({"label_file": str(two_sets[0]), "img_size": 64}), None, None,
                           lambda: Path("unused"))
    assert not isinstance(ds, MixedFaceDataset) and len(ds) == 4


@pytest.mark.parametrize("sources, words", [
    ([{"image_root": "x"}], "needs a label_file"),
    ([{"label_file": "a.txt", "repeats": 2}], "unknown key"),
    ([{"label_file": "a.txt", "repeat": -1}], "repeat must be a number >= 0"),
    ([{"label_file": "a.txt", "mosaic_prob": 2}], "mosaic_prob must be in [0, 1]"),
    ([{"label_file": "a.txt", "augment": 3}], "augment must be a mapping"),
    (["a.txt"], "must be a mapping"),
])
def test_bad_sources_refused(sources: list, words: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        TrainConfig.from_dict({"extra_sources": sources})
    assert words in str(err.value)


def test_bad_source_augment_is_a_config_error(two_sets: tuple[Path, Path]) -> None:
    cfg = TrainConfig.from_dict({"label_file": str(two_sets[0]),
                                 "extra_sources": [{"label_file": str(two_sets[1]), "augment": {"nope": 1}}]})
    with pytest.raises(ConfigError, match=r"extra_sources\[0\]\.augment"):
        build_datasets(cfg, None, None, lambda: Path("unused"))


def test_sources_from_set_and_yaml(tmp_path: Path) -> None:
    cfg = resolve_config(sets=["extra_sources=[{label_file: w.txt, repeat: 3}]", "label_repeat=0.25"])
    assert cfg.extra_sources == [{"label_file": "w.txt", "repeat": 3}] and cfg.label_repeat == 0.25
    y = tmp_path / "c.yaml"
    y.write_text("extra_sources:\n  - {label_file: w.txt, image_root: imgs, augment: {crop_ref_size: 640}}\n")
    assert resolve_config(y).extra_sources[0]["image_root"] == "imgs"
    with pytest.raises(ConfigError, match="extra_sources"):
        resolve_config(sets=["extra_sources=5"])
