"""Detector specs -> detectors: the one home for building our detector, RetinaFace-mnet0.25, the
peers and the auto-label teachers from the strings the commands take.

A spec names one detector:

* ours: ``featherface:WEIGHTS`` (also ``ours:``; the model is read from the file), a registered
  model name (``featherface-v2-ultra``: its shipped weights) or ``MODEL:WEIGHTS``;
* RetinaFace-mnet0.25: ``retinaface`` / ``retinaface:PATH`` (the authors' release file);
* a peer of :mod:`featherface.peers.registry`: ``yunet``, ``ultraface-rfb320:PATH``, ``haar``...

Three line-ups are built from specs, each with the policy of its command:

* :func:`build_lineup` (``featherface compare``): a list, our detector first and only with
  trained weights (never random), peers that cannot be built here skipped with a message;
* :func:`build_detectors` (``featherface eval --human-sets``): ``{row name: detector}`` plus notes
  on the skipped ones;
* :func:`build_teacher` (``featherface autolabel``): one teacher, or several joined by ``+``
  fused into a :class:`FusedTeacher`.

Every FeatherFace detector here comes from :func:`our_detector`, every peer from
:func:`peer_detector` (:func:`~featherface.peers.registry.build_peer` plus the fixed-input rule).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from featherface.errors import ConfigError
from featherface.inference.detector import FaceDetector
from featherface.inference.options import DetectorOptions, is_random_weights
from featherface.models.registry import list_models
from featherface.models.weights import BUILTIN_WEIGHTS, read_weights
from featherface.ops.boxes import box_iou
from featherface.peers import retinaface as retinaface_peer
from featherface.peers import yunet as yunet_peer
from featherface.peers.base import PeerUnavailableError, peers_dir
from featherface.peers.registry import build_peer, parse_spec
from featherface.peers.retinaface import RETINAFACE_MODEL
from featherface.types import Detector, Face

__all__ = [
    "OURS",
    "FusedTeacher",
    "build_detectors",
    "build_lineup",
    "build_teacher",
    "default_weights_available",
    "our_detector",
    "peer_detector",
    "split_spec",
    "split_teachers",
]

OURS = ("featherface", "ours")  # spec names of our own detector (the model is given or read from the file)
TEACHER_KINDS = ("yunet", "retinaface", "featherface")


# --------------------------------------------------------------------------- one detector


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"NAME[:PATH]"`` -> (lower-case name, path or ``None``); an empty path is a :class:`ConfigError`."""
    s = str(spec).strip()
    name, sep, path = s.partition(":")
    if sep and not path.strip():
        raise ConfigError(f"detector spec {s!r}: empty path after ':'")
    return name.strip().lower(), (path.strip() if sep else None)


def default_weights_available(model: str) -> bool:
    """Whether trained weights for ``model`` ship with the package (only then is it used without a weights file)."""
    return model in BUILTIN_WEIGHTS


def our_detector(
    model: str,
    weights: str | os.PathLike[str] | None,
    *,
    score_threshold: float,
    nms_threshold: float | None = None,
    input_size: int | None = None,
    device: str | None = "cpu",
    threads: int | None = None,
    vote_iou: float | None = None,
) -> Detector:
    """A :class:`~featherface.FaceDetector` of ``model`` with ``weights`` (``None``: the shipped ones;
    ``"none"``: an untrained network); ``nms_threshold=None`` / ``vote_iou=None`` keep the
    detector's defaults."""
    kw: dict[str, Any] = {"score_threshold": score_threshold, "input_size": input_size, "device": device,
                          "threads": threads}
    if nms_threshold is not None:
        kw["nms_threshold"] = nms_threshold
    if vote_iou is not None:
        kw["vote_iou"] = vote_iou
    return FaceDetector(model=model, weights=weights if weights else "default", **kw)


def peer_detector(
    spec: str,
    *,
    score_threshold: float | None,
    nms_threshold: float | None = None,
    input_size: int | None = None,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
    **options: Any,
) -> Detector:
    """:func:`~featherface.peers.registry.build_peer`; a fixed-input model asked for another
    ``input_size`` keeps its own size (said through ``log``) instead of failing."""
    try:
        return build_peer(spec, score_threshold=score_threshold, nms_threshold=nms_threshold,
                          input_size=input_size, threads=threads, **options)
    except ConfigError as exc:
        if input_size is None or "fixed" not in str(exc):
            raise
    det = build_peer(spec, score_threshold=score_threshold, nms_threshold=nms_threshold, threads=threads, **options)
    if log is not None:
        log(f"note: {det.name} has a fixed input size; --input-size does not apply to it")
    return det


# --------------------------------------------------------------------------- featherface compare


def build_lineup(
    specs: Sequence[str],
    *,
    weights: str | None = None,
    model: str = DetectorOptions.model,
    score_threshold: float = DetectorOptions.score_threshold,
    nms_threshold: float | None = None,
    input_size: int | None = None,
    threads: int | None = None,
    strict: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[Detector]:
    """The ``featherface compare`` line-up named by ``specs`` (peer specs, plus ``featherface[:WEIGHTS]`` for ours).

    Our detector joins (first) when ``weights`` is given or trained weights ship with the package;
    it is never run with random weights unless asked (``weights="none"``). A peer that cannot be
    built here (file or library missing) is skipped with a message through ``log``, or raises
    with ``strict`` or when its spec names an explicit path. ``input_size`` goes to detectors
    whose input can be resized; fixed-input models keep their size (logged).
    """
    say = log or (lambda _m: None)
    specs = [s.strip() for s in specs if s and s.strip()]
    ours = [s for s in specs if s.split(":", 1)[0].lower() in OURS]
    peers = [s for s in specs if s not in ours]
    for s in peers:  # unknown names fail before anything is loaded
        parse_spec(s)
    dets: list[Detector] = []
    our_weights = weights
    for s in ours:
        _, sep, path = s.partition(":")
        if sep and path:
            our_weights = path
    if our_weights or default_weights_available(model):
        dets.append(our_detector(model, our_weights, score_threshold=score_threshold, nms_threshold=nms_threshold,
                                 input_size=input_size))
    elif ours:
        msg = (f"featherface: no trained weights ship for '{model}' yet; pass --weights PATH to include it "
               "(it is never compared with random weights)")
        if strict:
            raise ConfigError(msg)
        say(f"skipped {msg}")
    else:
        say(f"note: {model} is not compared: no trained weights ship yet (pass --weights PATH)")
    for s in peers:
        _, path = parse_spec(s)
        try:
            det = peer_detector(s, score_threshold=score_threshold, nms_threshold=nms_threshold,
                                input_size=input_size, threads=threads, log=say)
        except PeerUnavailableError as exc:
            if strict or path is not None:
                raise
            say(f"skipped {exc}")
            continue
        if any(d.name == det.name for d in dets):
            raise ConfigError(f"detector {det.name!r} is listed twice")
        dets.append(det)
    return dets


# --------------------------------------------------------------------------- featherface eval --human-sets


def build_detectors(
    specs: Sequence[str],
    *,
    weights: str | os.PathLike[str] | None = None,
    model: str = DetectorOptions.model,
    device: str = "cpu",
    score_threshold: float = 0.02,
    nms_threshold: float | None = None,
    input_size: int | None = None,
    log: Callable[[str], None] | None = None,
    threads: int | None = None,
    vote_iou: float | None = None,
) -> tuple[dict[str, Detector], list[str]]:
    """``--detectors`` specs -> (``{row name: detector}``, notes on the skipped ones).

    A spec is a registered model name (``featherface-v2-ultra``: its shipped weights),
    ``MODEL:WEIGHTS``, ``featherface:WEIGHTS`` (the model read from the file), ``retinaface`` /
    ``retinaface:PATH``, or a peer spec of :mod:`featherface.peers.registry` (``yunet``,
    ``ultraface-rfb320``...). ``weights`` (``--weights``) goes to the entry of the model the file
    was trained as (added when the list has none); ``weights="none"`` (or ``"random"``, as
    ``MODEL:none`` in a spec) is an untrained, randomly initialised ``model``. A detector whose
    files are missing (or for which no weights ship) is skipped with a note; an unknown name is a
    :class:`ConfigError`. ``vote_iou`` (``None``: the detectors' default) goes to ours and
    RetinaFace-mnet0.25, the detectors built on :class:`~featherface.FaceDetector`.
    """
    say = log or (lambda _m: None)
    models = set(list_models())
    vote = {} if vote_iou is None else {"vote_iou": vote_iou}
    notes: list[str] = []
    entries: list[tuple[str, str | None]] = []  # (kind or model name, path); ("missing", note): skipped
    for raw in specs:
        s = raw.strip()
        if not s:
            continue
        key, path_or_none = split_spec(s)
        if key in OURS:
            if path_or_none is None:
                raise ConfigError(f"detector spec {s!r} needs a weights file: featherface:WEIGHTS")
            if not Path(path_or_none).expanduser().is_file():
                entries.append(("missing", f"skipped {s}: weights file {path_or_none} not found"))
                continue
            key = str(read_weights(path_or_none)["model"])
        if key == RETINAFACE_MODEL and path_or_none is None:
            key = "retinaface"
        if key not in models:
            parse_spec(s)  # unknown names fail here, listing the known peers
            key = "peer:" + s
        entries.append((key, path_or_none))
    if weights is not None and is_random_weights(str(weights)):
        entries.insert(0, (model, "none"))
    elif weights is not None:
        w = Path(weights).expanduser()
        if not w.is_file():
            entries.insert(0, ("missing", f"skipped --weights {weights}: file not found"))
        else:
            model = str(read_weights(w)["model"])
            k = next((i for i, (m, p) in enumerate(entries) if m == model and p is None), None)
            if k is None:
                entries.insert(0, (model, str(w)))
            else:
                entries[k] = (model, str(w))
    out: dict[str, Detector] = {}
    paths: dict[str, str | None] = {}  # row name -> its weights file
    for key, path in entries:
        if key == "missing":
            notes.append(str(path))
            continue
        label = key if path is None else f"{key}:{Path(path).name}"
        try:
            if key.startswith("peer:"):  # the peers, RetinaFace-mnet0.25 (``retinaface[:PATH]``) included
                det = peer_detector(key[5:], score_threshold=score_threshold, nms_threshold=nms_threshold,
                                    input_size=input_size, threads=threads, log=say,
                                    **({"device": device, **vote} if parse_spec(key[5:])[0].kind == "retinaface"
                                       else {}))
                label = det.name
            else:
                if path is None and not default_weights_available(key):
                    notes.append(f"skipped {key}: no trained weights ship for it (pass {key}:WEIGHTS or --weights)")
                    continue
                if path is not None and not is_random_weights(path) and not Path(path).expanduser().is_file():
                    notes.append(f"skipped {label}: weights file {path} not found")
                    continue
                det = our_detector(key, path, score_threshold=score_threshold, nms_threshold=nms_threshold,
                                   input_size=input_size, device=device, threads=threads, **vote)
        except PeerUnavailableError as exc:
            notes.append(f"skipped {exc}")
            continue
        if label in out and path is not None and not key.startswith("peer:") \
                and Path(paths[label]).expanduser().resolve() != Path(path).expanduser().resolve():
            # two weights files of one name (run1/final.pt, run2/final.pt): name the row by its folder too
            label = f"{key}:{Path(path).parent.name}/{Path(path).name}"
        if label in out:
            raise ConfigError(f"detector {label!r} is listed twice")
        out[label] = det
        paths[label] = path
    for n in notes:
        say(n)
    return out, notes


# --------------------------------------------------------------------------- featherface autolabel


class FusedTeacher:
    """Several teachers fused into one: boxes that overlap (IoU >= ``iou``) are one face whose box
    and landmarks are the score-weighted mean of the members; a face found by one teacher only is
    kept when its score reaches ``single_threshold``. Two detectors with different failure modes
    (RetinaFace misses some profiles YuNet finds, and the other way round) give fuller labels
    than either alone."""

    def __init__(self, teachers: Sequence[Detector], iou: float = 0.5, single_threshold: float = 0.8):
        if not teachers:
            raise ConfigError("a fused teacher needs at least one detector")
        self.teachers = list(teachers)
        self.iou = float(iou)
        self.single_threshold = float(single_threshold)
        self.name = "+".join(getattr(t, "name", "teacher") for t in self.teachers)

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = [(f, k) for k, t in enumerate(self.teachers) for f in t.detect(image)]
        if len(self.teachers) == 1 or not faces:
            return [f for f, _ in faces]
        faces.sort(key=lambda fk: -fk[0].score)
        boxes = torch.tensor([f.box for f, _ in faces], dtype=torch.float64)
        iou = box_iou(boxes, boxes).numpy()
        used = np.zeros(len(faces), dtype=bool)
        out: list[Face] = []
        for i in range(len(faces)):
            if used[i]:
                continue
            # members: the best box of each other teacher that overlaps this one
            members = [i]
            for k in range(len(self.teachers)):
                if k == faces[i][1]:
                    continue
                cand = [j for j in range(len(faces)) if not used[j] and faces[j][1] == k and iou[i, j] >= self.iou]
                if cand:
                    members.append(max(cand, key=lambda j: iou[i, j]))
            used[members] = True
            if len(members) == 1 and faces[i][0].score < self.single_threshold:
                continue
            w = np.array([faces[j][0].score for j in members])
            box = (np.array([faces[j][0].box for j in members]) * w[:, None]).sum(0) / w.sum()
            lms = [(np.asarray(faces[j][0].landmarks), faces[j][0].score) for j in members
                   if faces[j][0].landmarks is not None]
            lm = (sum(l * s for l, s in lms) / sum(s for _, s in lms)) if lms else None
            out.append(Face.from_arrays(box.tolist(), float(max(w)), lm))
        return out


def split_teachers(spec: str) -> list[str]:
    """``a+b`` -> ``[a, b]``, where a ``+`` only starts a new teacher when a teacher name follows
    it, so a file path that holds a ``+`` (``yunet:/m/a+b.onnx``) stays whole."""
    parts: list[str] = []
    for piece in spec.split("+"):
        if not piece:
            continue
        if parts and not piece.partition(":")[0].startswith(TEACHER_KINDS):
            parts[-1] += "+" + piece
        else:
            parts.append(piece)
    return parts


def build_teacher(spec: str, score_threshold: float = 0.7) -> Detector:
    """``yunet``, ``yunet:PATH``, ``yunet-s``, ``retinaface[:PATH]``, ``featherface:WEIGHTS[:MODEL]``,
    or several joined by ``+`` (e.g. ``retinaface+yunet``: a :class:`FusedTeacher`) -> a detector."""
    parts = split_teachers(spec)
    if len(parts) > 1:
        return FusedTeacher([build_teacher(s, score_threshold) for s in parts])
    kind, _, arg = spec.partition(":")
    if kind == "retinaface":
        return retinaface_peer.build_retinaface(arg or None, score_threshold=score_threshold)  # type: ignore[return-value]
    if kind.startswith("yunet"):
        default = "yunet/yunet_s_dynamic.onnx" if kind == "yunet-s" else None
        path = arg or None
        if path is None and default:
            path = str(peers_dir() / default)
        return yunet_peer.YuNetDetector(path, score_threshold=score_threshold, name=kind)
    if kind == "featherface":
        if not arg:
            raise ConfigError("teacher 'featherface' needs a weights file: featherface:PATH[:MODEL]")
        weights, _, model = arg.partition(":")
        model = model or read_weights(weights)["model"]
        return our_detector(model, weights, score_threshold=score_threshold)
    raise ConfigError(f"unknown teacher {spec!r}: use yunet[:PATH], yunet-s, retinaface[:PATH], "
                      "featherface:WEIGHTS, or several joined by '+'")
