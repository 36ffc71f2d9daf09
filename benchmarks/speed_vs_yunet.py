"""Issue 13's yardstick: the default ``FaceDetector()`` against YuNet-n on the shared crowd photos,
at longer side 640 and at the original size, with 1 and 2 threads (``featherface compare`` each time,
so both run in the same process, on the same images, with the same timing code).

    python benchmarks/speed_vs_yunet.py      # prints the 4 latency ratios and writes runs/compare/vs_yunet.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from featherface.cli import main
from featherface.io.paths import shared_dir

REPO = Path(__file__).resolve().parents[1]


def run() -> int:
    photos = shared_dir() / "data" / "photos"
    if not photos.is_dir():
        print(f"{photos} is not present", file=sys.stderr)
        return 1
    out_dir = REPO / "runs" / "compare"
    rows = []
    for size in (640, None):
        for threads in (1, 2):
            js = out_dir / f"vs_yunet_{size or 'orig'}_{threads}t.json"
            args = ["compare", str(photos), "--peers", "yunet", "--reference", "yunet", "--repeats", "3",
                    "--threads", str(threads), "--json", str(js), "--force"]
            if size:
                args += ["--input-size", str(size)]
            rc = main(args)
            if rc:
                return rc
            doc = json.loads(js.read_text())
            ms = {d["name"]: d["latency_ms"]["median"] for d in doc["detectors"]}
            ours = next(k for k in ms if k.startswith("featherface"))
            rows.append({"input": size or "original", "threads": threads, "featherface_ms": ms[ours],
                         "yunet_ms": ms["yunet"], "ratio": round(ms[ours] / ms["yunet"], 3)})
    print()
    print("| input | threads | FaceDetector() ms | YuNet-n ms | ratio |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['input']} | {r['threads']} | {r['featherface_ms']:.1f} | {r['yunet_ms']:.1f} | {r['ratio']:.2f} |")
    (out_dir / "vs_yunet.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run())
