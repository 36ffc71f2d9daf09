"""Where a distilled student departs from its teacher (issue 11's diagnosis, README model card).

For one student (default: the shipped V2 Ultra) against RetinaFace-mnet0.25:

1. agreement with the teacher's own faces (score >= 0.5 as ground truth, AP at IoU 0.5, faces >= 16 px)
   on 300 training photos (Caltech, from the training label file) and on 300 facemask photos:
   low on facemask but high on training photos means a domain gap, not a fitting problem;
2. facemask recall by the set's class (with_mask / without_mask / mask_weared_incorrect) and size
   (16-32 px, >= 32 px), student and teacher, at score 0.5;
3. landmark agreement on 200 training photos: mean point distance / sqrt(box area) between the
   student's and the teacher's points on the same face (IoU > 0.7).

    python benchmarks/student_vs_teacher.py [--weights featherface-v2-ultra:PATH] [--labels runs/default-weights/labels_train.txt]
"""

from __future__ import annotations

import argparse
import random
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import numpy as np

from featherface import FaceDetector
from featherface.evaluation.human_boxes import score_box_set
from featherface.io.images import read_image
from featherface.io.paths import shared_dir
from featherface.ops.iou import iou_matrix
from featherface.peers.retinaface import resolve_retinaface_weights


def boxes_of(faces: list) -> np.ndarray:
    return np.array([f.box for f in faces], np.float64).reshape(-1, 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="featherface-v2-ultra", metavar="MODEL[:PATH]")
    ap.add_argument("--labels", type=Path, default=Path("runs/default-weights/labels_train.txt"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    data = shared_dir() / "data"
    if not args.labels.is_file() or not (data / "facemask-kaggle").is_dir():
        print(f"needs {args.labels} (tools/make_default_weights.sh writes it) and {data}/facemask-kaggle", file=sys.stderr)
        return 1
    model, _, path = args.weights.partition(":")
    student = FaceDetector(model, weights=path or "default", score_threshold=0.02, threads=args.threads)
    teacher = FaceDetector("retinaface-mnet025", weights=resolve_retinaface_weights(None), score_threshold=0.02,
                           threads=args.threads)
    rng = random.Random(0)
    train = sorted(line[2:].strip() for line in args.labels.read_text().splitlines() if line.startswith("# "))
    train_files = [data / p for p in rng.sample(train, min(300, len(train)))]
    mask_ann = sorted((data / "facemask-kaggle" / "annotations").glob("*.xml"))

    print("1. agreement with the teacher's faces (AP@0.5, faces >= 16 px)")
    for name, files in (("training photos", train_files),
                        ("facemask photos", [data / "facemask-kaggle" / "images" /
                                             ET.parse(a).getroot().findtext("filename") for a in mask_ann[:300]])):
        images = [read_image(f) for f in files]
        ref = [boxes_of([f for f in teacher.detect(im) if f.score >= 0.5]) for im in images]
        r = score_box_set([student.detect(im) for im in images], ref, min_face=16)
        print(f"   {name}: AP {r.ap:.3f}, recall {r.recall:.3f}, precision {r.precision:.3f}")

    print("2. facemask recall by class and size at score 0.5 (student / teacher, faces)")
    hits: dict[tuple[str, str], list[list[bool]]] = defaultdict(lambda: [[], []])
    for a in mask_ann:
        root = ET.parse(a).getroot()
        img = read_image(data / "facemask-kaggle" / "images" / root.findtext("filename"))
        objs = [(o.findtext("name"), [float(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")])
                for o in root.iter("object")]
        gt = np.array([b for _, b in objs], np.float64).reshape(-1, 4)
        size = np.sqrt((gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1]))
        for k, det in enumerate((student, teacher)):
            db = boxes_of([f for f in det.detect(img) if f.score >= 0.5])
            found = iou_matrix(gt, db).max(1) >= 0.5 if len(db) and len(gt) else np.zeros(len(gt), bool)
            for (cls, _), ok, s in zip(objs, found, size):
                if s >= 16:
                    hits[(cls, "16-32" if s < 32 else ">=32")][k].append(bool(ok))
    for key in sorted(hits):
        st, te = hits[key]
        print(f"   {key[0]} {key[1]} px: {np.mean(st):.2f} / {np.mean(te):.2f} ({len(st)})")

    print("3. landmark agreement on training photos (NME between student and teacher points)")
    errs = []
    for f in train_files[:200]:
        im = read_image(f)
        a = [x for x in teacher.detect(im) if x.score >= 0.5]
        b = [x for x in student.detect(im) if x.score >= 0.5]
        if not a or not b:
            continue
        iou = iou_matrix(boxes_of(a), boxes_of(b))
        for i, fa in enumerate(a):
            j = int(iou[i].argmax())
            if iou[i, j] > 0.7 and fa.landmarks is not None and b[j].landmarks is not None:
                w, h = fa.box[2] - fa.box[0], fa.box[3] - fa.box[1]
                d = np.linalg.norm(np.array(fa.landmarks) - np.array(b[j].landmarks), axis=1).mean()
                errs.append(d / np.sqrt(w * h))
    print(f"   {len(errs)} faces: mean {np.mean(errs):.4f}, median {np.median(errs):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
