import numpy as np
import pytest

from featherface import FaceDetector, Face
from featherface.errors import ConfigError, ImageError, WeightsError
from featherface.io.images import load_image
from tests.inference.stub import PlantedFacesModel

BOXES = np.array([[40, 30, 104, 110], [150, 60, 190, 108]], dtype=np.float32)
LMS = np.array([
    [[60, 60], [85, 60], [72, 75], [62, 92], [84, 92]],
    [[160, 78], [180, 78], [170, 88], [162, 98], [178, 98]],
], dtype=np.float32)


def _image(h=240, w=300):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_planted_faces_are_found_in_original_pixels():
    det = FaceDetector(model=PlantedFacesModel(BOXES, LMS), score_threshold=0.5)
    faces = det.detect(_image())
    assert len(faces) == 2  # duplicates removed by NMS
    got = sorted(faces, key=lambda f: f.box[0])
    for f, box, lm in zip(got, BOXES, LMS):
        assert np.allclose(f.box, box, atol=0.05)
        assert np.allclose(np.asarray(f.landmarks), lm, atol=0.05)
        assert 0.9 < f.score < 1.0


def test_input_size_rescales_back_to_original():
    # network sees the image resized by 0.5 (longer side 600 -> 300); faces planted in that frame
    model = PlantedFacesModel(BOXES, LMS)
    det = FaceDetector(model=model, input_size=300)
    faces = det.detect(_image(480, 600))
    # 240x300 after scaling, padded to the next multiples of 32: the canvas fits the image, not a square
    assert model.calls[-1] == (1, 3, 256, 320)
    got = sorted(faces, key=lambda f: f.box[0])
    for f, box in zip(got, BOXES):
        assert np.allclose(f.box, box * 2, atol=0.1)


def test_score_threshold_filters():
    det = FaceDetector(model=PlantedFacesModel(BOXES, LMS, scores=np.array([0.95, 0.6])), score_threshold=0.7)
    faces = det.detect(_image())
    assert len(faces) == 1 and faces[0].score > 0.9


def test_boxes_are_clipped_to_the_image():
    boxes = np.array([[-20, -10, 60, 70]], dtype=np.float32)
    lms = np.full((1, 5, 2), 20, dtype=np.float32)
    faces = FaceDetector(model=PlantedFacesModel(boxes, lms)).detect(_image())
    assert faces and faces[0].box[0] == 0 and faces[0].box[1] == 0


def test_detect_batch_matches_single_and_handles_sizes():
    det = FaceDetector(model=PlantedFacesModel(BOXES, LMS))
    a, b = _image(240, 300), _image(256, 256)
    batch = det.detect_batch([a, b])
    assert len(batch) == 2
    single = det.detect(a)
    assert len(batch[0]) == len(single) == 2
    for fb, fs in zip(batch[0], single):
        assert np.allclose(fb.box, fs.box, atol=1e-3) and fb.score == pytest.approx(fs.score)
    assert len(batch[1]) == 2  # the planted faces lie inside the 256x256 image too
    assert det.detect_batch([]) == []


def test_accepts_gray_rgba_pil_and_rgb_flag():
    from PIL import Image

    det = FaceDetector(model=PlantedFacesModel(BOXES, LMS))
    img = _image()
    gray = img[:, :, 0]
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    for inp in (gray, gray[:, :, None], rgba, Image.fromarray(img), img.astype(np.float32) / 255.0):
        assert len(det.detect(inp)) == 2
    assert len(det.detect(img[:, :, ::-1], rgb=True)) == 2  # negative-stride view


def test_exif_rotation_is_applied(tmp_path):
    from PIL import Image

    arr = np.zeros((40, 80, 3), np.uint8)
    arr[:, :10] = 255  # bright stripe on the left
    pil = Image.fromarray(arr)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    path = tmp_path / "rot.jpg"
    pil.save(path, exif=exif)
    img = load_image(path)
    assert img.shape[:2] == (80, 40)
    assert img[:10].mean() > 200  # stripe now on top


@pytest.mark.parametrize("bad,match", [
    (np.zeros((0, 10, 3), np.uint8), "zero size"),
    (np.zeros((10, 10, 2), np.uint8), "shape"),
    (np.full((10, 10, 3), np.nan, np.float32), "NaN"),
    (np.zeros((10, 10, 3), dtype=object), "dtype"),
    ("does/not/exist.jpg", "not found"),
    (b"not an image at all", "cannot decode"),
    (12345, "unsupported input"),
])
def test_bad_inputs_raise_image_error(bad, match):
    det = FaceDetector(model=PlantedFacesModel(BOXES, LMS))
    with pytest.raises(ImageError, match=match):
        det.detect(bad)


def test_corrupt_file_names_the_file(tmp_path):
    p = tmp_path / "broken.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 10)
    det = FaceDetector(model=PlantedFacesModel(BOXES, LMS))
    with pytest.raises(ImageError, match="broken.jpg"):
        det.detect(p)


def test_tiny_and_huge_aspect_images_run():
    det = FaceDetector(model=PlantedFacesModel(BOXES[:0], LMS[:0]), max_size=256)
    assert det.detect(np.zeros((1, 1, 3), np.uint8)) == []
    assert det.detect(np.zeros((1, 3000, 3), np.uint8)) == []


def test_default_weights_are_reserved_and_random_needs_asking():
    from featherface.models.weights import BUILTIN_WEIGHTS

    assert "featherface-v2-base" not in BUILTIN_WEIGHTS  # the ablation base ships none: asking is an error
    with pytest.raises(WeightsError, match="no trained weights"):
        FaceDetector(model="featherface-v2-base")
    if "featherface-v2-ultra" in BUILTIN_WEIGHTS:
        assert FaceDetector().weights_path.name == BUILTIN_WEIGHTS["featherface-v2-ultra"][0]
    with pytest.warns(UserWarning, match="untrained"):
        FaceDetector(weights=None)


def test_bad_config_values():
    with pytest.raises(ConfigError):
        FaceDetector(model=PlantedFacesModel(BOXES, LMS), score_threshold=2)
    with pytest.raises(ConfigError):
        FaceDetector(model=PlantedFacesModel(BOXES, LMS), backend="tensorrt")


def test_face_to_dict_is_json_ready():
    import json

    f = Face.from_arrays([1, 2, 3, 4], 0.9, np.arange(10))
    d = json.loads(json.dumps(f.to_dict()))
    assert d["box"] == [1, 2, 3, 4] and len(d["landmarks"]) == 5


def test_fast_preprocess_equals_the_reference_formula() -> None:
    """The OpenCV pre-processing gives exactly (BGR - mean), CHW, zero-padded to a multiple of 32."""
    det = FaceDetector(weights=None, backend="torch")
    rng = np.random.default_rng(0)
    ims = [rng.integers(0, 256, (45, 70, 3), dtype=np.uint8), rng.integers(0, 256, (100, 33, 3), dtype=np.uint8)]
    batch = det._to_batch(ims)
    assert batch.shape == (2, 3, 128, 96) and batch.dtype == np.float32
    for i, im in enumerate(ims):
        ref = np.zeros((3, 128, 96), np.float32)
        ref[:, :im.shape[0], :im.shape[1]] = (im.astype(np.float32) - det.mean).transpose(2, 0, 1)
        assert np.array_equal(batch[i], ref)
    one = det._to_batch(ims[:1])  # alone, an image gets its own smallest canvas
    assert one.shape == (1, 3, 64, 96) and np.array_equal(one[0], batch[0, :, :64, :96])
    assert not one[0, :, 45:, :].any() and not one[0, :, :, 70:].any()


def test_fast_preprocess_takes_views_and_odd_shapes() -> None:
    """Flipped, strided and cropped views (a video frame slice, a mirrored webcam image) give the
    same batch as their contiguous copies."""
    det = FaceDetector(weights=None, backend="torch")
    rng = np.random.default_rng(1)
    im = rng.integers(0, 256, (81, 97, 3), dtype=np.uint8)
    views = [im[:, ::-1], im[::2], im[:, :, ::-1], im[5:70, 3:90]]
    got = det._to_batch(views)
    ref = det._to_batch([np.ascontiguousarray(v) for v in views])
    assert np.array_equal(got, ref)
    for i, v in enumerate(views):
        expect = (v.astype(np.float32) - det.mean).transpose(2, 0, 1)
        assert np.array_equal(got[i, :, :v.shape[0], :v.shape[1]], expect)


def test_voting_moves_boxes_and_points_a_little_only(example_image):
    """Shipped weights on the demo photo: voting on (the default) and off find the same faces with
    the same scores; boxes and points move by a few pixels at most. The option is checked like the others."""
    from featherface.io.images import load_image

    image = load_image(example_image)
    voted = FaceDetector().detect(image)
    own = FaceDetector(vote_iou=0).detect(image)
    assert voted and len(voted) == len(own)
    for a, b in zip(voted, own):
        assert abs(a.score - b.score) < 1e-5
        side = b.box[2] - b.box[0]
        assert np.abs(np.asarray(a.box) - np.asarray(b.box)).max() < 0.05 * side
        assert np.abs(np.asarray(a.landmarks) - np.asarray(b.landmarks)).max() < 0.05 * side
    assert any(not np.allclose(a.landmarks, b.landmarks) for a, b in zip(voted, own))
    with pytest.raises(ConfigError, match="vote_iou"):
        FaceDetector(vote_iou=1.5)


def test_weights_of_a_variant_build_the_network_their_file_records(tmp_path):
    """A file trained with architecture options (an ablation variant, ``model_overrides``) runs as
    trained under its model's name; another model's name is still refused."""
    from featherface.models import create_model
    from featherface.models.weights import save_weights

    variant = create_model("featherface-v2-ultra", attention_residual=True, dynamic_sharing=False)
    path = save_weights(variant, tmp_path / "variant.pt")
    det = FaceDetector(weights=path, backend="torch")
    assert det.model.config.attention_residual and not det.model.config.dynamic_sharing
    assert det.weights_path == path
    with pytest.raises(WeightsError, match="different architecture"):
        FaceDetector("featherface-v1", weights=path)


def test_shipped_weights_give_the_same_faces_on_torch_and_onnxruntime(example_image):
    """The shipped V2 Ultra (residual attention repeats) through both backends: same faces."""
    from featherface.io.images import load_image

    image = load_image(example_image)
    a = FaceDetector(backend="torch", score_threshold=0.3).detect(image)
    b = FaceDetector(backend="onnxruntime", score_threshold=0.3).detect(image)
    assert a and len(a) == len(b)
    for fa, fb in zip(a, b):
        assert np.allclose(fa.box, fb.box, atol=0.05) and abs(fa.score - fb.score) < 1e-4
        assert np.allclose(fa.landmarks, fb.landmarks, atol=0.05)


def test_input_size_gives_the_faces_of_the_photo_scaled_beforehand() -> None:
    """``input_size`` scales the photo and pads it like any other: the faces (in original pixels) are
    those of the same photo resized by the user and run at its own size."""
    from pathlib import Path

    from featherface.io.images import resize_by

    photo = np.ascontiguousarray(load_image(Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg")[:, 40:440])
    scale = 320 / max(photo.shape[:2])
    sized = FaceDetector(backend="torch", input_size=320, vote_iou=0.0).detect(photo)
    before = FaceDetector(backend="torch", vote_iou=0.0).detect(resize_by(photo, scale))
    assert sized and len(sized) == len(before)
    for a, b in zip(sized, before):
        assert np.allclose(a.box, np.asarray(b.box) / scale, atol=1e-3) and a.score == pytest.approx(b.score, abs=1e-5)
