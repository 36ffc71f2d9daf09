"""Each detector default below the CLI is defined once (issue 29): the others read it from its home."""

from __future__ import annotations

import re
from pathlib import Path

from featherface.cli import build_parser
from featherface.inference.options import DetectorOptions
from featherface.inference.postprocess import PostprocessConfig
from featherface.ops.anonymize import MARGIN

PACKAGE = Path(__file__).resolve().parents[1] / "featherface"
# the library's floors, and above them training, export and the peers: a default they share with the
# detector is read from its home (a recipe's or a peer's own threshold, 0.02 or 0.7, is its own)
SCOPE = ("inference", "ops", "serve", "commands", "visualize.py", "types.py", "training", "export", "peers")
LITERALS = {
    "score threshold 0.5": re.compile(r"\bscore_threshold\s*(:\s*float\s*)?=\s*0\.5\b"),
    "NMS 0.4": re.compile(r"\bnms_threshold\s*(:\s*float\s*)?=\s*0\.4\b"),
    "vote IoU 0.7": re.compile(r"\bvote_iou\s*(:\s*float\s*)?=\s*0\.7\b"),
    "max size 1280": re.compile(r"\bmax_size\s*(:\s*int\s*)?=\s*1280\b"),
    "pre-NMS top-k 5000": re.compile(r"\bpre_nms_top_k\s*(:\s*int\s*)?=\s*5000\b"),
    "max detections 750": re.compile(r"\bmax_detections\s*(:\s*int\s*)?=\s*750\b"),
    "blur margin 0.3": re.compile(r"(?i)(margin\s*(:\s*float\s*)?=\s*0\.3\b|\"margin\",\s*0\.3\b|default=0\.3\b)"),
    "blur passes 3": re.compile(r"\bpasses\s*(:\s*int\s*)?=\s*3\b|\"passes\",\s*3\b"),
    "crop size 112": re.compile(r"\bsize\s*(:\s*int\s*)?=\s*112\b|\"size\",\s*112\b|default=112\b"),
    "crop margin 0": re.compile(r"\bmargin\s*(:\s*float\s*)?=\s*0(\.0)?\b(?!\.)|\"margin\",\s*0(\.0)?\b(?!\.)"),
}


def test_each_default_is_written_once() -> None:
    files = [p for name in SCOPE for p in ((PACKAGE / name).rglob("*.py") if (PACKAGE / name).is_dir()
                                           else [PACKAGE / name])]
    for what, pattern in LITERALS.items():
        homes = [f"{p.relative_to(PACKAGE)}:{i}" for p in files
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
        assert len(homes) == 1, f"{what} is defined in {homes}"


def test_the_copies_read_their_home() -> None:
    opts = DetectorOptions()
    post = PostprocessConfig()
    assert (post.score_threshold, post.nms_threshold) == (opts.score_threshold, opts.nms_threshold)
    from featherface.serve.settings import ServeSettings

    serve = ServeSettings()
    assert (serve.score_threshold, serve.nms_threshold) == (opts.score_threshold, opts.nms_threshold)
    assert build_parser().parse_args(["blur", "x.jpg", "-o", "out"]).margin == MARGIN


def test_blur_and_crop_options_read_their_dataclass() -> None:
    """AnonymizeOptions and CropOptions are the one home of blur's and crop's defaults: the verbs'
    flags, anonymize/anonymize_image, align_face/Face.align and the service (tests/serve) read them."""
    import inspect

    from featherface.inference.anonymize import anonymize_image
    from featherface.ops.align import CropOptions, align_face, alignment_template
    from featherface.ops.anonymize import AnonymizeOptions, anonymize
    from featherface.types import Face

    anon, crop = AnonymizeOptions(), CropOptions()
    blur_args = build_parser().parse_args(["blur", "x.jpg", "-o", "out"])
    assert {k: getattr(blur_args, k) for k in ("mode", "shape", "margin", "passes")} == \
        {k: getattr(anon, k) for k in ("mode", "shape", "margin", "passes")}
    crop_args = build_parser().parse_args(["crop", "x.jpg", "-o", "out"])
    assert (crop_args.size, crop_args.margin) == (crop.size, crop.margin)
    for fn, home in ((anonymize, anon), (anonymize_image, anon), (align_face, crop), (alignment_template, crop),
                     (Face.align, crop)):
        for name, p in inspect.signature(fn).parameters.items():
            if hasattr(home, name) and p.default is not inspect.Parameter.empty:
                assert p.default == getattr(home, name), f"{fn.__qualname__}({name}=)"
    for verb in ("blur.py", "crop.py"):  # their option flags come from the dataclass, not add_argument
        text = (PACKAGE / "commands" / verb).read_text(encoding="utf-8")
        assert not re.search(r"add_argument\(\"--(margin|size|passes|mode|shape)\"", text), verb


def test_training_export_and_peers_read_the_detector_defaults() -> None:
    """Where training, export and the peers share a default with the detector, it is DetectorOptions'."""
    import inspect

    from featherface.export.onnx_export import export_onnx
    from featherface.export.postprocess_graph import DetectorWithPostprocess
    from featherface.export.verify import compare_sessions, decoded_faces
    from featherface.peers.factory import build_lineup
    from featherface.peers.retinaface import build_retinaface
    from featherface.training.distill import teacher_box_targets
    from featherface.training.quick_eval import detect_tensor, evaluate_recall

    opts = DetectorOptions()
    post = PostprocessConfig()
    assert (post.pre_nms_top_k, post.max_detections) == (opts.pre_nms_top_k, opts.max_detections)
    shared = ("score_threshold", "nms_threshold", "max_detections", "model")
    for fn in (detect_tensor, evaluate_recall, teacher_box_targets, DetectorWithPostprocess.__init__, decoded_faces,
               compare_sessions, export_onnx, build_retinaface, build_lineup):
        params = inspect.signature(fn).parameters
        found = {n: params[n].default for n in shared  # None: "each detector's own" (compare's NMS)
                 if n in params and params[n].default not in (params[n].empty, None)}
        assert found and found == {n: getattr(opts, n) for n in found}, fn.__qualname__
