"""make_session: the one place an onnxruntime session is opened (threads, bytes, one-line errors)."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from featherface.errors import ConfigError, FeatherFaceError  # noqa: E402
from featherface.inference.backends import onnxruntime_backend  # noqa: E402
from featherface.inference.backends.onnxruntime_backend import (  # noqa: E402
    THREADS_ENV,
    OnnxRuntimeBackend,
    make_session,
    session_options,
)


def test_session_from_path_or_bytes_with_threads(v2_onnx):
    by_path = make_session(v2_onnx, threads=1)
    by_bytes = make_session(v2_onnx.read_bytes(), threads=1)
    assert [i.name for i in by_path.get_inputs()] == [i.name for i in by_bytes.get_inputs()] == ["input"]
    assert by_path.get_providers() == ["CPUExecutionProvider"]
    opts = by_path.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1 and opts.log_severity_level == 3


def test_threads_default_from_the_environment(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "3")
    assert session_options().intra_op_num_threads == 3
    assert session_options(2).intra_op_num_threads == 2  # an explicit value wins
    with pytest.raises(ConfigError, match="intra_op_threads"):
        session_options(-1)


def test_unreadable_model_is_a_one_line_config_error(tmp_path):
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot load it") as info:
        make_session(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="in-memory ONNX model"):
        make_session(b"not a model either")


def test_missing_onnxruntime_is_one_line(monkeypatch, v2_onnx):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    with pytest.raises(FeatherFaceError, match=r"featherface\[onnx\]") as info:
        make_session(v2_onnx)
    assert "\n" not in str(info.value)


def test_without_an_exporter_the_backend_needs_a_file(monkeypatch, v2_model):
    from featherface.inference import hooks

    assert hooks.get_onnx_exporter() is not None  # installed by the package root
    monkeypatch.setattr(hooks, "_onnx_exporter", None)
    with pytest.raises(ConfigError, match="needs onnx_path"):
        OnnxRuntimeBackend.for_model(v2_model)
