"""The data-handling parts of benchmarks/wider_data_scaling.py: a subset that leaked photos between sizes, or
a recipe that changed the number of WIDER crops with N, would misreport what more photos are worth."""

from __future__ import annotations

from pathlib import Path

import pytest

from featherface.data.labels import load_annotations, write_retinaface_labels
from featherface.training.config import TrainConfig

from tests.scripts import load_script


@pytest.fixture(scope="module")
def scaling():
    return load_script("benchmarks/wider_data_scaling.py")


def _labels(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "labels.txt"
    lines = []
    for i in range(n):
        lines += [f"# e/img{i}.jpg", f"{i} 0 10 10", "", f"{i} 20 12 12"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_subsets_are_nested_seeded_and_sized(scaling, tmp_path: Path) -> None:
    photos = load_annotations(_labels(tmp_path, 40), layout="retinaface")
    subsets = scaling.nested_subsets(photos, [5, 20, 40])
    names = {n: {a.path for a in s} for n, s in subsets.items()}
    assert [len(names[n]) for n in (5, 20, 40)] == [5, 20, 40]
    assert names[5] < names[20] < names[40]
    again = scaling.nested_subsets(photos, [5])
    assert {a.path for a in again[5]} == names[5]
    other = scaling.nested_subsets(photos, [5], seed=1)
    assert {a.path for a in other[5]} != names[5]
    with pytest.raises(SystemExit, match="41"):
        scaling.nested_subsets(photos, [41])


def test_a_written_subset_keeps_each_photo_with_its_boxes(scaling, tmp_path: Path) -> None:
    photos = load_annotations(_labels(tmp_path, 10), layout="retinaface")
    subset = scaling.nested_subsets(photos, [4])[4]
    back = load_annotations(write_retinaface_labels(tmp_path / "sub.txt", subset), layout="retinaface")
    assert [a.path for a in back] == [a.path for a in subset]
    for a, b in zip(back, subset):
        k = int(a.path[len("e/img"):-len(".jpg")])
        assert a.boxes.tolist() == b.boxes.tolist() == [[k, 0, k + 10, 10], [k, 20, k + 12, 32]]


def test_run_config_keeps_wider_crops_constant_and_names_dropped_sources(scaling, tmp_path: Path) -> None:
    present = tmp_path / "present.txt"
    present.write_text("# a.jpg\n")
    base = TrainConfig.from_dict({
        "label_file": str(present),
        "extra_sources": [
            {"label_file": "wider.txt", "image_root": "../shared/data/widerface/train-subset/images", "repeat": 6},
            {"label_file": str(tmp_path / "missing.txt"), "image_root": "x", "repeat": 0.5},
            {"label_file": str(present), "image_root": "y", "repeat": 2},
        ],
        "epochs": 9, "seed": 3,
    })
    cfg, dropped = scaling.run_config(base, Path("wider.txt"), Path("sub.txt"), 50, 200, 1, Path("init.pt"), 2,
                                      Path("out"))
    assert dropped == [str(tmp_path / "missing.txt")]
    wider, kept = cfg.extra_sources
    assert wider["label_file"] == "sub.txt" and wider["repeat"] == pytest.approx(24.0)  # 50 photos x 24 = 200 x 6
    assert kept["image_root"] == "y" and kept["repeat"] == 2
    assert (cfg.seed, cfg.epochs, cfg.init_weights, cfg.output_dir) == (1, 2, "init.pt", "out")
    assert base.epochs == 9 and base.extra_sources[0]["repeat"] == 6  # the base recipe is not changed
    with pytest.raises(SystemExit, match="other.txt"):  # a recipe without that source would train alike for every N
        scaling.run_config(base, Path("other.txt"), Path("sub.txt"), 50, 200, 1, Path("init.pt"), 2, Path("out"))


def test_slices_cover_the_order_once_between_the_sizes(scaling) -> None:
    assert scaling.slices([0, 50, 100, 200], 200) == [(0, 50), (50, 100), (100, 200)]
    assert scaling.slices([50], 200) == [(0, 50), (50, 200)]
    assert scaling.slices([200], 200) == [(0, 200)]
    order = scaling.shuffled_indices(30)
    assert sorted(order) == list(range(30)) and order != list(range(30))
