"""FaceDataset, collate_faces and the synthetic face generator."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from featherface.data.dataset import FaceDataset, collate_faces
from featherface.data.labels import ImageAnnotation, load_annotations
from featherface.data.synthetic import make_synthetic_dataset, render_synthetic_image
from featherface.data.transforms import EvalTransform, TrainTransform
from featherface.errors import ImageError
from featherface.io.images import expand_inputs, read_image

SIZE = 96


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    return make_synthetic_dataset(root, n_images=8, img_size=160, seed=7, max_face=120)


def check_item(img: torch.Tensor, target: dict, size: int = SIZE) -> int:
    assert isinstance(img, torch.Tensor) and img.dtype == torch.float32 and img.shape == (3, size, size)
    assert set(target) == {"boxes", "landmarks", "has_landmarks"}
    b, lm, has = target["boxes"], target["landmarks"], target["has_landmarks"]
    n = b.shape[0]
    assert b.shape == (n, 4) and b.dtype == torch.float32
    assert lm.shape == (n, 10) and lm.dtype == torch.float32
    assert has.shape == (n,) and has.dtype == torch.bool
    assert torch.all((b >= 0) & (b <= 1))
    assert torch.all(b[:, 2:] > b[:, :2])
    assert torch.all(lm[~has] == -1)
    return n


# ---------------------------------------------------------------------------------------------
# synthetic data


def test_render_synthetic_geometry() -> None:
    for seed in range(6):
        img, boxes, lms = render_synthetic_image(np.random.default_rng(seed), (180, 240), max_face=150)
        assert img.shape == (180, 240, 3) and img.dtype == np.uint8
        assert len(boxes) >= 1 and lms.shape == (len(boxes), 5, 2)
        bright = img.min(axis=2) > 135  # faces are bright in every channel, background never is
        for b, lm in zip(boxes, lms):
            x1, y1, x2, y2 = b.astype(int)
            ys, xs = np.nonzero(bright[max(0, y1 - 1) : y2 + 1, max(0, x1 - 1) : x2 + 1])
            assert abs(xs.min() + max(0, x1 - 1) - x1) <= 1 and abs(xs.max() + max(0, x1 - 1) + 1 - x2) <= 1
            assert abs(ys.min() + max(0, y1 - 1) - y1) <= 1 and abs(ys.max() + max(0, y1 - 1) + 1 - y2) <= 1
            assert np.all((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2))
            assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0] and lm[0, 1] < lm[2, 1] < lm[3, 1]
            for x, y in lm:  # the dot is darker than the face around it
                assert img[int(y), int(x)].max() < 175


def test_make_synthetic_dataset_is_deterministic(tmp_path: Path, synth: Path) -> None:
    again = make_synthetic_dataset(tmp_path, n_images=8, img_size=160, seed=7, max_face=120)
    assert again.read_text() == synth.read_text()
    anns = load_annotations(synth)
    assert len(anns) == 8 and all(a.has_landmarks.all() and len(a) >= 1 for a in anns)
    assert all((synth.parent / "images" / a.path).is_file() for a in anns)
    png = make_synthetic_dataset(tmp_path / "png", n_images=2, img_size=64, seed=1, max_face=40, ext="png")
    assert load_annotations(png)[0].path.endswith(".png")


# ---------------------------------------------------------------------------------------------
# dataset


def test_dataset_items_and_collate(synth: Path) -> None:
    ds = FaceDataset(synth, transform=TrainTransform(img_size=SIZE, zoom_out_prob=0.3))
    assert len(ds) == 8 and ds.image_root == synth.parent / "images"
    items = [ds[i] for i in range(len(ds))]
    total = sum(check_item(*it) for it in items)
    assert total >= 8
    assert any(bool(t["has_landmarks"].any()) for _, t in items)
    images, targets = collate_faces(items[:4])
    assert images.shape == (4, 3, SIZE, SIZE) and isinstance(targets, list) and len(targets) == 4
    assert targets[1] is items[1][1]
    img, tgt = ds[-1]
    torch.testing.assert_close(img, items[-1][0])
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_dataset_seeding_per_epoch_and_index(synth: Path) -> None:
    def make() -> FaceDataset:
        return FaceDataset(synth, transform=TrainTransform(img_size=SIZE), seed=3)

    a, b = make(), make()
    # same (seed, epoch, index) -> same sample, whatever was asked before
    _ = b[5], b[2]
    torch.testing.assert_close(a[2][0], b[2][0])
    torch.testing.assert_close(a[2][1]["boxes"], b[2][1]["boxes"])
    a.set_epoch(1)
    assert not torch.equal(a[2][0], b[2][0])
    b.set_epoch(1)
    torch.testing.assert_close(a[2][0], b[2][0])


def test_dataset_independent_of_worker_count(synth: Path) -> None:
    ds = FaceDataset(synth, transform=TrainTransform(img_size=64), mosaic_prob=0.5, seed=11)
    ds.set_epoch(4)

    def run(workers: int) -> list[torch.Tensor]:
        loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=workers, collate_fn=collate_faces)
        out = []
        for images, targets in loader:
            out.append(images)
            out.extend(t["boxes"] for t in targets)
        return out

    for x, y in zip(run(0), run(2)):
        torch.testing.assert_close(x, y)


def test_dataset_mosaic(synth: Path) -> None:
    ds = FaceDataset(synth, transform=TrainTransform(img_size=SIZE, crop_scales=(1.0,)), mosaic_prob=1.0)
    counts = [check_item(*ds[i]) for i in range(4)]
    assert sum(counts) > 4  # four pictures' faces per mosaic
    assert ds.mosaic_size == SIZE


def test_dataset_eval_transform_default_and_boxes_only_labels(tmp_path: Path) -> None:
    img, boxes, _ = render_synthetic_image(np.random.default_rng(0), (100, 140), max_face=60)
    (tmp_path / "imgs" / "d").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "imgs" / "d" / "x.png"), img)
    gt = tmp_path / "wider_gt.txt"
    lines = ["d/x.png", str(len(boxes))]
    lines += [f"{b[0]:g} {b[1]:g} {b[2] - b[0]:g} {b[3] - b[1]:g} 0 0 0 0 0 0" for b in boxes]
    gt.write_text("\n".join(lines) + "\n")
    ds = FaceDataset(gt, image_root=tmp_path / "imgs")
    assert isinstance(ds.transform, EvalTransform)
    image, target = ds[0]
    n = check_item(image, target, size=640)
    assert n == len(boxes) and not target["has_landmarks"].any()
    assert torch.all(target["landmarks"] == -1)
    torch.testing.assert_close(target["boxes"], torch.from_numpy(boxes / 140.0), atol=1e-5, rtol=0)


def test_dataset_from_annotation_list(tmp_path: Path) -> None:
    img, boxes, lms = render_synthetic_image(np.random.default_rng(1), 80, max_face=50)
    cv2.imwrite(str(tmp_path / "a.jpg"), img)
    anns = [ImageAnnotation("a.jpg", boxes, lms, np.ones(len(boxes), bool))]
    ds = FaceDataset(anns, image_root=tmp_path, transform=EvalTransform(80))
    image, target = ds[0]
    check_item(image, target, size=80)
    assert target["has_landmarks"].all()
    torch.testing.assert_close(target["landmarks"], torch.from_numpy(lms.reshape(-1, 10) / 80.0))


def test_unreadable_images_raise_image_error(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "corrupt.jpg").write_bytes(b"definitely not a jpeg")
    (tmp_path / "images" / "empty.jpg").write_bytes(b"")
    label = tmp_path / "label.txt"
    label.write_text("# missing.jpg\n1 1 5 5\n# corrupt.jpg\n1 1 5 5\n# empty.jpg\n")
    ds = FaceDataset(label)
    for i, name in enumerate(["missing.jpg", "corrupt.jpg", "empty.jpg"]):
        with pytest.raises(ImageError, match=name):
            ds[i]
    with pytest.raises(ImageError, match="not found"):
        read_image(tmp_path / "nope.png")


def test_collate_rejects_mixed_sizes() -> None:
    t = {"boxes": torch.zeros(0, 4), "landmarks": torch.zeros(0, 10), "has_landmarks": torch.zeros(0, dtype=torch.bool)}
    with pytest.raises(ValueError):
        collate_faces([(torch.zeros(3, 8, 8), t), (torch.zeros(3, 9, 9), t)])
    with pytest.raises(ValueError):
        collate_faces([])


# ---------------------------------------------------------------------- the guarded reader (issue 14)

def _label_dir(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "ok.jpg"), np.full((64, 64, 3), 90, np.uint8))
    return tmp_path


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_in_a_label_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    import os
    import warnings

    from tests.fuzz.campaign import time_limit
    from featherface.training.data import TrainingDataset

    root = _label_dir(tmp_path)
    os.mkfifo(root / "images" / "fifo.jpg")  # opening it for reading would block forever
    label = root / "label.txt"
    label.write_text("# fifo.jpg\n1 1 20 20\n# ok.jpg\n1 1 20 20\n")
    ds = FaceDataset(label)
    with time_limit(10, "reading a FIFO"):
        with pytest.raises(ImageError, match="fifo.jpg: not a regular file"):
            ds[0]
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            image, target, skipped = TrainingDataset(ds)[0]  # replaced by another image, with a warning
    assert skipped == 1 and image.shape[0] == 3
    assert any("skipping unreadable training image" in str(x.message) and "fifo.jpg" in str(x.message) for x in w)


def test_decompression_bomb_in_a_label_file_is_refused_from_its_header(tmp_path: Path) -> None:
    from tests.fuzz.campaign import huge_png_header

    root = _label_dir(tmp_path)
    (root / "images" / "bomb.png").write_bytes(huge_png_header(20000, 20000))
    label = root / "label.txt"
    label.write_text("# bomb.png\n1 1 20 20\n")
    with pytest.raises(ImageError, match="bomb.png: image declares 20000x20000 pixels"):
        FaceDataset(label)[0]


def test_special_files_in_a_folder_are_skipped_with_a_warning(tmp_path: Path) -> None:
    import os

    root = _label_dir(tmp_path)
    (root / "images" / "gone.jpg").symlink_to(root / "nowhere.jpg")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "images" / "pipe.png")
    with pytest.warns(UserWarning) as w:
        found = expand_inputs([root])
    assert [p.name for p in found] == ["ok.jpg"]
    msgs = sorted(str(x.message) for x in w)
    assert any("gone.jpg: skipped, a broken link" in m for m in msgs)
    assert not hasattr(os, "mkfifo") or any("pipe.png: skipped, not a regular file" in m for m in msgs)
