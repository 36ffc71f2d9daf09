import os
from pathlib import Path

import pytest
import torch

from featherface import FaceDetector
from featherface.errors import WeightsError
from featherface.models import create_model
from featherface.models.weights import check_archive_bounds, load_weights, read_weights, save_weights, torch_load_plain


@pytest.fixture(scope="module")
def v2_file(tmp_path_factory):
    torch.manual_seed(1)
    m = create_model("featherface-v2-ultra")
    p = tmp_path_factory.mktemp("w") / "v2.pt"
    save_weights(m, p, meta={"note": "test"})
    return m, p


def test_round_trip_and_detector_loads(v2_file):
    m, p = v2_file
    m2 = create_model("featherface-v2-ultra")
    obj = load_weights(m2, p)
    assert obj["meta"]["note"] == "test"
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    det = FaceDetector(weights=p)
    assert det.weights_path == p


def test_wrong_architecture_is_named(v2_file):
    _, p = v2_file
    with pytest.raises(WeightsError, match="featherface-v2-ultra"):
        load_weights(create_model("featherface-v1"), p)
    with pytest.raises(WeightsError, match="different architecture"):
        FaceDetector(model="featherface-v1", weights=p)


def test_missing_empty_truncated_and_garbage(tmp_path, v2_file):
    _, good = v2_file
    with pytest.raises(WeightsError, match="not found"):
        read_weights(tmp_path / "none.pt")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(WeightsError, match="empty"):
        read_weights(empty)
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good.read_bytes()[: os.path.getsize(good) // 2])
    with pytest.raises(WeightsError, match="trunc.pt"):
        read_weights(trunc)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(2048))
    with pytest.raises(WeightsError):
        read_weights(junk)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/featherface_pwned",))


def test_pickle_with_code_is_refused_and_not_run(tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"format": "featherface-weights", "x": _Evil()}, p)
    if os.path.exists("/tmp/featherface_pwned"):
        os.unlink("/tmp/featherface_pwned")
    with pytest.raises(WeightsError, match="refused"):
        read_weights(p)
    assert not os.path.exists("/tmp/featherface_pwned")


def test_plain_state_dict_and_checksum_mismatch(tmp_path, v2_file):
    m, good = v2_file
    plain = tmp_path / "plain.pt"
    torch.save(m.state_dict(), plain)
    with pytest.raises(WeightsError, match="not a FeatherFace weights file"):
        read_weights(plain)
    obj = torch.load(good, weights_only=True)
    k = next(iter(obj["state_dict"]))
    obj["state_dict"][k] = obj["state_dict"][k] + 1
    edited = tmp_path / "edited.pt"
    torch.save(obj, edited)
    with pytest.raises(WeightsError, match="checksum"):
        read_weights(edited)


def test_training_checkpoint_layout_loads(tmp_path, v2_file):
    m, good = v2_file
    ckpt = {"epoch": 3, "weights": torch.load(good, weights_only=True)}
    p = tmp_path / "ckpt.pt"
    torch.save(ckpt, p)
    load_weights(create_model("featherface-v2-ultra"), p)


def test_builtin_weights_are_checksummed(tmp_path, monkeypatch, v2_file):
    import featherface.models.shipped as S

    _, good = v2_file
    shipped = tmp_path / "ff.pt"
    shipped.write_bytes(good.read_bytes())
    monkeypatch.setattr(S, "PACKAGE_WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(S, "BUILTIN_WEIGHTS", {"featherface-v2-ultra": ("ff.pt", S.file_sha256(shipped))})
    det = FaceDetector()  # the default weights now resolve to the shipped file
    assert det.weights_path == shipped
    data = bytearray(shipped.read_bytes())
    data[-10] ^= 0xFF
    shipped.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum"):
        FaceDetector()
    shipped.unlink()
    with pytest.raises(WeightsError, match="missing"):
        FaceDetector()


def test_shipped_weights_verify_and_match_architecture():
    import featherface.models.weights as W

    for name, (fname, _) in W.BUILTIN_WEIGHTS.items():
        path = W.verify_builtin(name)
        obj = read_weights(path)
        assert obj["model"] == name and path.name == fname
        load_weights(create_model(name), path)


def test_written_weights_have_ordinary_permissions(tmp_path):
    """mkstemp makes 0600 files; a saved weights file must get what open(..., "w") would give."""
    import stat

    mask = os.umask(0o022)
    try:
        p = save_weights(create_model("featherface-v2-ultra"), tmp_path / "w.pt")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
        os.chmod(p, 0o640)
        save_weights(create_model("featherface-v2-ultra"), p)  # an existing file keeps its mode
        assert stat.S_IMODE(p.stat().st_mode) == 0o640
    finally:
        os.umask(mask)


def test_files_that_are_not_weights_are_named_for_what_they_are(tmp_path):
    """An image, a text file, an ONNX or TorchScript file given as weights: say what it is, not
    "pickled code" or torch's advice to load it unsafely."""
    import cv2
    import numpy as np

    jpg = tmp_path / "photo.jpg"
    cv2.imwrite(str(jpg), np.zeros((8, 8, 3), np.uint8))
    txt = tmp_path / "notes.pt"
    txt.write_text("these are not weights\n")
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x08\x12\x07pytorch" + b"\x00" * 64)
    ts = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), ts)
    for path, kind in ((jpg, "JPEG image"), (txt, "text file"), (onnx, "ONNX model"), (ts, "TorchScript module")):
        with pytest.raises(WeightsError, match=kind) as info:
            read_weights(path)
        assert "weights_only" not in str(info.value) and "\n" not in str(info.value)


def test_non_finite_weights_with_a_valid_checksum_are_refused(tmp_path):
    from featherface.models.weights import weights_dict

    model = create_model("featherface-v2-ultra")
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    torch.save(weights_dict(model), tmp_path / "nan.pt")  # checksum matches the NaN tensors
    with pytest.raises(WeightsError, match="NaN or infinite"):
        read_weights(tmp_path / "nan.pt")


def test_compressed_tensor_bomb_refused_before_loading(tmp_path: Path) -> None:
    """A small file whose deflated entry declares a big tensor is refused from the archive's own
    directory, before torch.load allocates the tensor (the read is bounded by the file's size)."""
    import zipfile

    genuine = tmp_path / "genuine.pt"
    torch.save({"state_dict": {"w": torch.zeros(4_000_000)}}, genuine)  # 16 MB of zeros
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(genuine) as z, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            out.writestr(info.filename, z.read(info.filename))
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(WeightsError, match=r"bomb\.pt: refused: its entries unpack to 15\.\d MiB"):
        read_weights(bomb)
    with pytest.raises(WeightsError, match="refused"):
        torch_load_plain(bomb)
    check_archive_bounds(genuine)  # a genuine torch.save archive passes


def test_a_file_older_than_a_field_reads_with_the_behaviour_it_was_trained_with(tmp_path):
    """Files written before ``attention_residual`` / ``spatial_norm`` existed were trained without
    them: they read as False, whatever the registry's default becomes."""
    path = save_weights(create_model("featherface-v2-ultra"), tmp_path / "old.pt")
    obj = torch.load(path, weights_only=True)
    for key in ("attention_residual", "spatial_norm"):
        del obj["config"][key]
    torch.save(obj, path)
    cfg = read_weights(path)["config"]
    assert cfg["attention_residual"] is False and cfg["spatial_norm"] is False
