"""Training and evaluation augmentation, the RetinaFace recipe plus zoom-out and mosaic.

Every step is a pure function ``step(image, boxes, landmarks, has_landmarks, rng, ...)`` that
returns a new ``(image, boxes, landmarks, has_landmarks)`` tuple and never modifies its inputs:

* ``image``: HxWx3 uint8 BGR (OpenCV order);
* ``boxes``: ``(N, 4)`` float32 ``x1 y1 x2 y2`` in pixels, continuous coordinates (pixel column
  ``c`` spans ``[c, c+1)``, so a face filling columns ``c0..c1-1`` has ``x1=c0, x2=c1``);
* ``landmarks``: ``(N, 5, 2)`` float32 pixels, ``-1`` for faces without landmarks;
* ``has_landmarks``: ``(N,)`` bool.

All randomness comes from the explicit ``rng`` (a :class:`numpy.random.Generator`), so a given
seed reproduces an augmented sample exactly, whatever process computes it. Landmarks of faces
without landmarks are re-marked ``-1`` after every geometric step so absent stays absent.

One cohesive thing, kept in one module as torchvision's detection reference keeps its
``transforms.py``: every step follows the one contract above (enforced by the private helpers
below: canonical copies, absent landmarks re-marked), and the two pipelines at the end are
compositions of those steps.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from featherface.data.occlusion import degrade, occlude_faces
from featherface.data.rotate import random_rotate

__all__ = [
    "BGR_MEAN",
    "INTERPOLATIONS",
    "Sample",
    "random_crop",
    "pad_to_square",
    "photometric_distort",
    "mirror",
    "random_mirror",
    "zoom_out",
    "mosaic",
    "resize",
    "subtract_mean",
    "normalize_targets",
    "to_network",
    "filter_small_faces",
    "TrainTransform",
    "EvalTransform",
]

#: Per-channel mean subtracted from BGR pixels (the RetinaFace convention; no std division).
BGR_MEAN: tuple[float, float, float] = (104.0, 117.0, 123.0)

#: Interpolations the training resize draws from (RetinaFace's set).
INTERPOLATIONS: tuple[int, ...] = (
    cv2.INTER_LINEAR,
    cv2.INTER_CUBIC,
    cv2.INTER_AREA,
    cv2.INTER_NEAREST,
    cv2.INTER_LANCZOS4,
)

# Mirror swaps left/right points: eyes 0<->1, nose 2 stays, mouth corners 3<->4.
_MIRROR_ORDER = np.array([1, 0, 2, 4, 3])

Sample = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""``(image, boxes, landmarks, has_landmarks)`` as described in the module docstring."""


def _fill_colour() -> tuple[int, int, int]:
    return tuple(int(round(c)) for c in BGR_MEAN)  # type: ignore[return-value]


def _as_arrays(
    boxes: np.ndarray, landmarks: np.ndarray | None, has_landmarks: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies in canonical dtypes/shapes, so steps can edit them freely (purity).

    ``landmarks=None`` means no face has landmarks; ``has_landmarks=None`` derives the flag
    from the points (all five present, i.e. not -1).
    """
    b = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    n = b.shape[0]
    if landmarks is None:
        lm = np.full((n, 5, 2), -1.0, dtype=np.float32)
    else:
        lm = np.array(landmarks, dtype=np.float32).reshape(n, 5, 2)
    if has_landmarks is None:
        has = ~np.any(np.all(lm == -1.0, axis=2), axis=1)
    else:
        has = np.array(has_landmarks, dtype=bool).reshape(n)
    return b, lm, has


def _mark_absent(landmarks: np.ndarray, has_landmarks: np.ndarray) -> np.ndarray:
    landmarks[~has_landmarks] = -1.0
    return landmarks


# --------------------------------------------------------------------------------------------
# geometric steps


def random_crop(
    image: np.ndarray,
    boxes: np.ndarray,
    landmarks: np.ndarray,
    has_landmarks: np.ndarray,
    rng: np.random.Generator,
    scales: Sequence[float] = (0.3, 0.45, 0.6, 0.8, 1.0),
    scale_range: tuple[float, float] | None = None,
    max_tries: int = 250,
) -> Sample:
    """Crop a random square whose side is ``scale * short side`` (RetinaFace's key augmentation).

    ``scale`` is drawn from ``scales`` (discrete) or uniformly from ``scale_range``. Faces whose
    centre falls inside the square are kept, shifted, and their boxes clipped to it (landmarks are
    shifted, not clipped). A crop must keep at least one face when the image has any; after
    ``max_tries`` failures the whole image is returned padded to a square with the mean colour,
    so the output is always square.
    """
    b, lm, has = _as_arrays(boxes, landmarks, has_landmarks)
    h, w = image.shape[:2]
    short = min(h, w)
    cands = [float(s) for s in scales] if scale_range is None else None
    checked = cands if cands is not None else [float(v) for v in scale_range]  # type: ignore[union-attr]
    if not checked or any(not 0.0 < s <= 1.0 for s in checked):
        raise ValueError(f"crop scales must be non-empty and lie in (0, 1], got {checked}")
    n = b.shape[0]
    centres = (b[:, :2] + b[:, 2:]) / 2.0
    for _ in range(max(1, int(max_tries))):
        if cands is not None:
            scale = cands[int(rng.integers(len(cands)))]
        else:
            scale = float(rng.uniform(scale_range[0], scale_range[1]))  # type: ignore[index]
        side = max(1, int(scale * short))
        left = int(rng.integers(w - side + 1))
        top = int(rng.integers(h - side + 1))
        keep = (
            (centres[:, 0] >= left)
            & (centres[:, 0] < left + side)
            & (centres[:, 1] >= top)
            & (centres[:, 1] < top + side)
        )
        if n > 0 and not keep.any():
            continue
        nb = b[keep] - np.array([left, top, left, top], dtype=np.float32)
        np.clip(nb, 0, side, out=nb)
        ok = (nb[:, 2] > nb[:, 0]) & (nb[:, 3] > nb[:, 1])
        if n > 0 and not ok.any():
            continue
        nlm = lm[keep][ok] - np.array([left, top], dtype=np.float32)
        nhas = has[keep][ok]
        crop = image[top : top + side, left : left + side].copy()
        return crop, nb[ok], _mark_absent(nlm, nhas), nhas
    return pad_to_square(image, b, lm, has)


def pad_to_square(
    image: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray, has_landmarks: np.ndarray
) -> Sample:
    """Pad right/bottom with the mean colour to a square, so a later square resize keeps aspect."""
    b, lm, has = _as_arrays(boxes, landmarks, has_landmarks)
    h, w = image.shape[:2]
    side = max(h, w)
    if h == w:
        return image.copy(), b, lm, has
    out = cv2.copyMakeBorder(image, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT, value=_fill_colour())
    return out, b, lm, has


def mirror(
    image: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray, has_landmarks: np.ndarray
) -> Sample:
    """Flip horizontally; landmark indices swap so "left eye" stays the image-left eye."""
    b, lm, has = _as_arrays(boxes, landmarks, has_landmarks)
    w = image.shape[1]
    out = image[:, ::-1].copy()
    nb = b.copy()
    nb[:, 0] = w - b[:, 2]
    nb[:, 2] = w - b[:, 0]
    nlm = lm[:, _MIRROR_ORDER].copy()
    nlm[:, :, 0] = w - nlm[:, :, 0]
    return out, nb, _mark_absent(nlm, has), has


def random_mirror(
    image: np.ndarray,
    boxes: np.ndarray,
    landmarks: np.ndarray,
    has_landmarks: np.ndarray,
    rng: np.random.Generator,
    prob: float = 0.5,
) -> Sample:
    """Apply :func:`mirror` with probability ``prob``."""
    if rng.random() < prob:
        return mirror(image, boxes, landmarks, has_landmarks)
    b, lm, has = _as_arrays(boxes, landmarks, has_landmarks)
    return image.copy(), b, lm, has


def zoom_out(
    image: np.ndarray,
    boxes: np.ndarray,
    landmarks: np.ndarray,
    has_landmarks: np.ndarray,
    rng: np.random.Generator,
    max_scale: float = 3.0,
) -> Sample:
    """Place the image at a random spot of a canvas ``s`` times larger (``s`` in ``[1, max_scale]``).

    The canvas is filled with :data:`BGR_MEAN` (zero after mean subtraction); after the final
    resize the faces are smaller, which is how the detector sees enough small faces.
    """
    if max_scale < 1.0:
        raise ValueError(f"zoom-out max_scale must be >= 1, got {max_scale}")
    b, lm, has = _as_arrays(boxes, landmarks, has_landmarks)
    h, w = image.shape[:2]
    s = float(rng.uniform(1.0, max_scale))
    ch, cw = int(h * s), int(w * s)
    left = int(rng.integers(cw - w + 1))
    top = int(rng.integers(ch - h + 1))
    out = cv2.copyMakeBorder(
        image, top, ch - h - top, left, cw - w - left, cv2.BORDER_CONSTANT, value=_fill_colour()
    )
    nb = b + np.array([left, top, left, top], dtype=np.float32)
    nlm = lm + np.array([left, top], dtype=np.float32)
    return out, nb, _mark_absent(nlm, has), has


def _scale_targets(b: np.ndarray, lm: np.ndarray, has: np.ndarray, sx: float, sy: float) -> tuple[np.ndarray, np.ndarray]:
    nb = b * np.array([sx, sy, sx, sy], dtype=np.float32)
    nlm = lm * np.array([sx, sy], dtype=np.float32)
    return nb, _mark_absent(nlm, has)


def resize(
    image: np.ndarray,
    boxes: np.ndarray,
    landmarks: np.ndarray,
    has_landmarks: np.ndarray,
    rng: np.random.Generator | None,
    size: int | tuple[int, int],
    interpolation: int | None = None,
) -> Sample:
    """Resize to ``size`` (int: square; tuple: ``(height, width)``) and scale the targets.

    With ``interpolation=None`` and an ``rng`` the interpolation is drawn from
    :data:`INTERPOLATIONS` (RetinaFace does this so the net is not tuned to one resampler);
    without an ``rng`` it is bilinear.
    """
    th, tw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    b, lm, has = _as_arrays(boxes, landmarks, has_landmarks)
    h, w = image.shape[:2]
    if interpolation is None:
        interpolation = INTERPOLATIONS[int(rng.integers(len(INTERPOLATIONS)))] if rng is not None else cv2.INTER_LINEAR
    out = cv2.resize(image, (tw, th), interpolation=interpolation) if (h, w) != (th, tw) else image.copy()
    nb, nlm = _scale_targets(b, lm, has, tw / w, th / h)
    return out, nb, nlm, has


def mosaic(
    samples: Sequence[Sample],
    rng: np.random.Generator,
    size: int = 640,
    centre_range: tuple[float, float] = (0.3, 0.7),
) -> Sample:
    """Tile four samples 2x2 around a random centre into a ``size`` x ``size`` image.

    Each sample is scaled (keeping its aspect) just enough to cover its quadrant and a random
    window of it fills the quadrant; faces whose centre falls in the window are kept and clipped.
    Useful on small datasets: more faces, more scales and more context per picture.
    """
    if len(samples) != 4:
        raise ValueError(f"mosaic needs exactly 4 samples, got {len(samples)}")
    cx = int(round(rng.uniform(*centre_range) * size))
    cy = int(round(rng.uniform(*centre_range) * size))
    cx = min(max(cx, 1), size - 1)
    cy = min(max(cy, 1), size - 1)
    canvas = np.empty((size, size, 3), dtype=np.uint8)
    canvas[:] = _fill_colour()
    # quadrant rectangles (x0, y0, x1, y1): TL, TR, BL, BR
    quads = [(0, 0, cx, cy), (cx, 0, size, cy), (0, cy, cx, size), (cx, cy, size, size)]
    all_b, all_lm, all_has = [], [], []
    for (img, boxes, lms, has_l), (x0, y0, x1, y1) in zip(samples, quads):
        b, lm, has = _as_arrays(boxes, lms, has_l)
        qw, qh = x1 - x0, y1 - y0
        h, w = img.shape[:2]
        s = max(qw / w, qh / h)
        rw, rh = max(qw, int(np.ceil(w * s))), max(qh, int(np.ceil(h * s)))
        sx, sy = rw / w, rh / h
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(img, (rw, rh), interpolation=interp) if (rw, rh) != (w, h) else img
        ox = int(rng.integers(rw - qw + 1))
        oy = int(rng.integers(rh - qh + 1))
        canvas[y0:y1, x0:x1] = scaled[oy : oy + qh, ox : ox + qw]
        nb, nlm = _scale_targets(b, lm, has, sx, sy)
        nb -= np.array([ox, oy, ox, oy], dtype=np.float32)
        nlm = nlm - np.array([ox, oy], dtype=np.float32)
        ctr = (nb[:, :2] + nb[:, 2:]) / 2.0
        keep = (ctr[:, 0] >= 0) & (ctr[:, 0] < qw) & (ctr[:, 1] >= 0) & (ctr[:, 1] < qh)
        nb = nb[keep]
        np.clip(nb[:, 0::2], 0, qw, out=nb[:, 0::2])
        np.clip(nb[:, 1::2], 0, qh, out=nb[:, 1::2])
        ok = (nb[:, 2] > nb[:, 0]) & (nb[:, 3] > nb[:, 1])
        nb = nb[ok] + np.array([x0, y0, x0, y0], dtype=np.float32)
        nhas = has[keep][ok]
        nlm = nlm[keep][ok] + np.array([x0, y0], dtype=np.float32)
        all_b.append(nb)
        all_lm.append(_mark_absent(nlm, nhas))
        all_has.append(nhas)
    return (
        canvas,
        np.concatenate(all_b).astype(np.float32).reshape(-1, 4),
        np.concatenate(all_lm).astype(np.float32).reshape(-1, 5, 2),
        np.concatenate(all_has).astype(bool),
    )


# --------------------------------------------------------------------------------------------
# photometric


def _affine_u8(image: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """``clip(x * alpha + beta)`` on uint8 via a 256-entry lookup table (fast on big images)."""
    lut = np.clip(np.arange(256, dtype=np.float32) * alpha + beta, 0, 255).astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(image), lut)


def photometric_distort(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast, saturation and hue, each applied with probability 0.5.

    Follows RetinaFace: brightness is an additive shift (+-32), contrast a gain (0.5-1.5),
    saturation a gain on the HSV S channel and hue a shift (+-18 of OpenCV's 0-180 range); contrast
    goes either first or last (coin flip) so its interplay with the colour steps varies.
    """
    img = image  # every step below returns a new array, so the input is never written
    contrast_first = rng.random() < 0.5
    if rng.random() < 0.5:
        img = _affine_u8(img, beta=float(rng.uniform(-32, 32)))
    if contrast_first and rng.random() < 0.5:
        img = _affine_u8(img, alpha=float(rng.uniform(0.5, 1.5)))
    do_sat = rng.random() < 0.5
    sat = float(rng.uniform(0.5, 1.5)) if do_sat else 1.0
    do_hue = rng.random() < 0.5
    shift = int(rng.integers(-18, 19)) if do_hue else 0
    if do_sat or do_hue:
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        h, s_, v = cv2.split(hsv)
        if do_sat:
            s_ = _affine_u8(s_, alpha=sat)
        if do_hue:
            h = cv2.LUT(h, np.mod(np.arange(256) + shift, 180).astype(np.uint8))
        img = cv2.cvtColor(cv2.merge([h, s_, v]), cv2.COLOR_HSV2BGR)
    if not contrast_first and rng.random() < 0.5:
        img = _affine_u8(img, alpha=float(rng.uniform(0.5, 1.5)))
    return img.copy() if img is image else img


# --------------------------------------------------------------------------------------------
# final steps


def subtract_mean(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 BGR -> 3xHxW float32 minus :data:`BGR_MEAN` (the network's input convention)."""
    out = image.astype(np.float32) - np.asarray(BGR_MEAN, dtype=np.float32)
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def normalize_targets(
    boxes: np.ndarray, landmarks: np.ndarray, has_landmarks: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Divide boxes/landmarks by the image size so the loss sees ``[0, 1]`` coordinates.

    Boxes are clipped to ``[0, 1]``; landmarks are not (a point may sit just outside a cropped
    face); absent landmarks stay exactly ``-1``.
    """
    b, lm, has = _as_arrays(boxes, landmarks, has_landmarks)
    scale = np.array([width, height], dtype=np.float32)
    nb = np.clip(b / np.tile(scale, 2), 0.0, 1.0)
    nlm = lm / scale
    return nb, _mark_absent(nlm, has), has


def to_network(image: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray, has_landmarks: np.ndarray) -> Sample:
    """The network's form of a pixel sample: 3xHxW mean-subtracted image, targets normalised by its size."""
    nb, nlm, nhas = normalize_targets(boxes, landmarks, has_landmarks, image.shape[1], image.shape[0])
    return subtract_mean(image), nb, nlm, nhas


def filter_small_faces(
    boxes: np.ndarray, landmarks: np.ndarray, has_landmarks: np.ndarray, min_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop faces narrower or shorter than ``min_px`` (in the current image's pixels)."""
    b, lm, has = _as_arrays(boxes, landmarks, has_landmarks)
    keep = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= min_px
    return b[keep], lm[keep], has[keep]


class TrainTransform:
    """The training pipeline: photometric -> zoom-out -> square crop -> mirror -> rotate -> resize -> occlude
    -> degrade -> normalise (the last two off unless asked for).

    Called as ``t(image, boxes, landmarks, has_landmarks, rng)``; returns ``(chw, boxes,
    landmarks, has_landmarks)`` with ``chw`` 3xSxS float32 mean-subtracted, boxes ``(N,4)`` and
    landmarks ``(N,5,2)`` normalised to ``[0,1]`` by ``S = img_size``. Mosaic is done by the
    dataset before this (it needs four images).
    """

    def __init__(
        self,
        img_size: int = 640,
        crop_scales: Sequence[float] = (0.3, 0.45, 0.6, 0.8, 1.0),
        crop_scale_range: tuple[float, float] | None = None,
        crop_tries: int = 250,
        crop_ref_size: int = 0,
        zoom_out_prob: float = 0.0,
        zoom_out_max: float = 3.0,
        mirror_prob: float = 0.5,
        photometric: bool = True,
        random_interpolation: bool = True,
        min_face_px: float = 0.0,
        occlusion_prob: float = 0.0,
        occlusion_face_prob: float = 0.5,
        degrade_prob: float = 0.0,
        rotate_prob: float = 0.0,
        rotate_max: float = 30.0,
    ) -> None:
        if img_size <= 0:
            raise ValueError(f"img_size must be positive, got {img_size}")
        self.img_size = int(img_size)
        self.crop_scales = tuple(float(s) for s in crop_scales)
        self.crop_scale_range = crop_scale_range
        self.crop_tries = int(crop_tries)
        # > 0: crop scales are those of an output of this side; a multi-scale batch of side s crops
        # s / crop_ref_size as much, so faces keep one scale distribution at every batch size (a
        # crowd's tiny faces stay at native scale or larger in 320-px batches as in 640-px ones)
        if crop_ref_size < 0:
            raise ValueError(f"crop_ref_size must be >= 0, got {crop_ref_size}")
        self.crop_ref_size = int(crop_ref_size)
        self.zoom_out_prob = float(zoom_out_prob)
        self.zoom_out_max = float(zoom_out_max)
        self.mirror_prob = float(mirror_prob)
        self.photometric = bool(photometric)
        self.random_interpolation = bool(random_interpolation)
        self.min_face_px = float(min_face_px)
        # off by default (the published recipe); see featherface.data.occlusion for why they exist
        self.occlusion_prob = float(occlusion_prob)
        self.occlusion_face_prob = float(occlusion_face_prob)
        self.degrade_prob = float(degrade_prob)
        # in-plane turns of the crop (featherface.data.rotate): landmarks that follow head roll
        if not (0.0 <= rotate_prob <= 1.0 and 0.0 <= rotate_max <= 180.0):
            raise ValueError(f"rotate_prob must be in [0, 1] and rotate_max in [0, 180], got {rotate_prob}, {rotate_max}")
        self.rotate_prob = float(rotate_prob)
        self.rotate_max = float(rotate_max)

    def augment(
        self,
        image: np.ndarray,
        boxes: np.ndarray,
        landmarks: np.ndarray,
        has_landmarks: np.ndarray,
        rng: np.random.Generator,
        size: int | None = None,
    ) -> Sample:
        """All steps up to the resized uint8 image with pixel targets (handy for visual checks);
        ``size``: this sample's output side instead of ``img_size`` (multi-scale batches)."""
        b, lm, has = _as_arrays(boxes, landmarks, has_landmarks)
        img = photometric_distort(image, rng) if self.photometric else image
        if self.zoom_out_prob > 0 and rng.random() < self.zoom_out_prob:
            img, b, lm, has = zoom_out(img, b, lm, has, rng, self.zoom_out_max)
        scales, scale_range = self.crop_scales, self.crop_scale_range
        out_size = self.img_size if size is None else int(size)
        if self.crop_ref_size:
            f = out_size / self.crop_ref_size
            scales = tuple(min(1.0, v * f) for v in scales)
            scale_range = None if scale_range is None else (min(1.0, scale_range[0] * f), min(1.0, scale_range[1] * f))
        img, b, lm, has = random_crop(img, b, lm, has, rng, scales, scale_range, self.crop_tries)
        img, b, lm, has = random_mirror(img, b, lm, has, rng, self.mirror_prob)
        if self.rotate_prob > 0 and rng.random() < self.rotate_prob:
            img, b, lm, has = random_rotate(img, b, lm, has, rng, self.rotate_max, _fill_colour())
        interp = None if self.random_interpolation else cv2.INTER_LINEAR
        img, b, lm, has = resize(img, b, lm, has, rng, self.img_size if size is None else int(size), interp)
        if self.min_face_px > 0:
            b, lm, has = filter_small_faces(b, lm, has, self.min_face_px)
        if self.occlusion_prob > 0 and rng.random() < self.occlusion_prob:
            img = occlude_faces(img, b, lm, has, rng, self.occlusion_face_prob)
        if self.degrade_prob > 0 and rng.random() < self.degrade_prob:
            img = degrade(img, rng)
        return img, b, lm, has

    def __call__(
        self,
        image: np.ndarray,
        boxes: np.ndarray,
        landmarks: np.ndarray,
        has_landmarks: np.ndarray,
        rng: np.random.Generator,
        size: int | None = None,
    ) -> Sample:
        return to_network(*self.augment(image, boxes, landmarks, has_landmarks, rng, size))


class EvalTransform:
    """Deterministic pipeline for validation: pad to square (mean colour) -> resize -> normalise.

    Same call signature and output as :class:`TrainTransform`; ``rng`` is accepted and ignored.
    """

    def __init__(self, img_size: int = 640) -> None:
        if img_size <= 0:
            raise ValueError(f"img_size must be positive, got {img_size}")
        self.img_size = int(img_size)

    def augment(
        self,
        image: np.ndarray,
        boxes: np.ndarray,
        landmarks: np.ndarray,
        has_landmarks: np.ndarray,
        rng: np.random.Generator | None = None,
    ) -> Sample:
        img, b, lm, has = pad_to_square(image, boxes, landmarks, has_landmarks)
        return resize(img, b, lm, has, None, self.img_size, cv2.INTER_LINEAR)

    def __call__(
        self,
        image: np.ndarray,
        boxes: np.ndarray,
        landmarks: np.ndarray,
        has_landmarks: np.ndarray,
        rng: np.random.Generator | None = None,
    ) -> Sample:
        return to_network(*self.augment(image, boxes, landmarks, has_landmarks))
