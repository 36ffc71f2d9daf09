"""Fast fuzz subset: broken, foreign and hostile weights files.

Contract: a one-line WeightsError naming the file (truncated, empty, random bytes, another
architecture, plain state_dict, edited tensors, hostile pickles...); loading never runs code from
the file (marker files written by ``__reduce__`` payloads must not appear).
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import pytest
import torch

from featherface import FaceDetector
from featherface.cli import main
from featherface.errors import FeatherFaceError, WeightsError
from featherface.models.registry import create_model
from featherface.models.weights import load_weights, read_weights
from featherface.training.checkpoint import read_checkpoint
from tests.fuzz.campaign import WeightsCase, weights_cases
from tests.fuzz.payloads import CodeOnLoad

# the raw-pickle cases make torch warn about the pickle protocol before refusing them
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol")


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> tuple[list[WeightsCase], dict[str, Path], Path]:
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("weights-fuzz")
    cs = weights_cases(create_model("featherface-v2-ultra"), create_model("featherface-v1"), d / "markers",
                       seed=0, n_random=4)
    files = {}
    for c in cs:
        files[c.name] = d / c.name
        files[c.name].write_bytes(c.data)
    return cs, files, d / "markers"


def _outcome(fn) -> tuple[str, str]:
    try:
        fn()
    except WeightsError as exc:
        return "error", str(exc)
    except FeatherFaceError as exc:
        return "other-ours", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001
        return "unexpected", f"{type(exc).__name__}: {exc}"
    return "ok", ""


def _judge(case: WeightsCase, path: Path, status: str, msg: str, leg: str) -> str | None:
    if status in ("unexpected", "other-ours"):
        return f"[{leg}] {status}: {msg}"
    want = "ok" if (case.expect == "ok" or (leg == "read" and case.readable)) else "error"
    if status != want:
        return f"[{leg}] expected {want}, got {status} {msg}"
    if status == "error" and (str(path) not in msg or "\n" in msg.strip()):
        return f"[{leg}] error is not one line naming the file: {msg!r}"
    return None


def test_weights_files_fuzz(cases):
    cs, files, markers = cases
    model = create_model("featherface-v2-ultra")
    failures = []
    for c in cs:
        p = files[c.name]
        for leg, fn in (("read", lambda: read_weights(p)), ("load", lambda: load_weights(model, p))):
            why = _judge(c, p, *_outcome(fn), leg)
            if why:
                failures.append(f"{c.name}: {why}")
    assert len(cs) >= 40
    assert not failures, "\n".join(failures)
    assert not list(markers.glob("pwned-*")), "a weights file ran code while being loaded"


def test_detector_and_cli_refuse_one_of_each_kind(cases, capsys):
    cs, files, markers = cases
    seen: set[str] = set()
    failures = []
    for c in cs:
        if c.kind in seen:
            continue
        seen.add(c.kind)
        p = files[c.name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            why = _judge(c, p, *_outcome(lambda: FaceDetector(weights=p)), "FaceDetector")
        if why:
            failures.append(f"{c.name}: {why}")
        rc = main(["detect", "nothing.jpg", "--weights", str(p), "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        if c.expect == "error" and not (rc == 2 and len(err) == 1 and str(p) in err[0] and "Traceback" not in err[0]):
            failures.append(f"{c.name}: [cli] rc={rc}, stderr={err}")
    assert len(seen) >= 10
    assert not failures, "\n".join(failures)
    assert not list(markers.glob("pwned-*"))


def test_checkpoint_reader_refuses_hostile_and_broken_files(cases):
    """``--resume`` reads checkpoints with the same weights_only loader: never code, never a crash."""
    cs, files, markers = cases
    failures = []
    for c in cs:
        status, msg = _outcome(lambda: read_checkpoint(files[c.name]))
        if status != "error":  # none of these is a training checkpoint
            failures.append(f"{c.name}: {status} {msg}")
    assert not failures, "\n".join(failures)
    assert not list(markers.glob("pwned-*"))


def test_the_hostile_payload_is_live(tmp_path):
    """Sanity check of the test itself: unpickling the payload *does* create the marker, so its
    absence above means the loader refused it, not that the payload was a dud."""
    marker = tmp_path / "live"
    pickle.loads(pickle.dumps(CodeOnLoad(str(marker))))  # noqa: S301 - deliberately, on our own bytes
    assert marker.exists()


@pytest.mark.parametrize("label", ["state_dict-has-str", "sha-is-int", "meta-is-list", "config-is-list"])
def test_wrongly_typed_header_entries_are_weights_errors(cases, label):
    """Regression: these raised AttributeError/TypeError (from the checksum, the config comparison
    or ``dict(meta)`` in FaceDetector) instead of a WeightsError naming the file."""
    cs, files, _ = cases
    p = files[f"{label}.pt"]
    with pytest.raises(WeightsError, match=r"entry|state_dict"):
        read_weights(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(WeightsError):
            FaceDetector(weights=p)
