"""detect, blur, crop and the service write one record for the same image (issue 29): the faces come
from :class:`featherface.Results` in all four, so a field added there appears in every output."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from featherface.cli import main
from featherface.serve.settings import ServeSettings

from .conftest import httpx, running

from featherface.serve.app import create_app  # noqa: E402  (after the importorskip in conftest)


def test_detect_blur_crop_and_serve_agree_on_one_image(tmp_path: Path, example_image: Path) -> None:
    flags = ["--threads", "1", "--quiet"]
    assert main(["detect", str(example_image), "--json", str(tmp_path / "d.json"), *flags]) == 0
    assert main(["blur", str(example_image), "-o", str(tmp_path / "b"), "--json", str(tmp_path / "b.json"),
                 *flags]) == 0
    assert main(["crop", str(example_image), "-o", str(tmp_path / "c"), *flags]) == 0
    detect = json.loads((tmp_path / "d.json").read_text())["results"][0]
    blur = json.loads((tmp_path / "b.json").read_text())["results"][0]
    with open(tmp_path / "c" / "index.csv", newline="", encoding="utf-8") as f:
        crop = list(csv.DictReader(f))
    with running(create_app(ServeSettings(workers=1, threads=1))) as url:
        served = httpx.post(f"{url}/v1/detect", content=example_image.read_bytes(), timeout=60).json()

    assert detect["faces"], "the demo face must be found"
    assert detect["faces"] == blur["faces"] == served["faces"]
    assert (detect["file"], detect["width"], detect["height"]) == (blur["file"], blur["width"], blur["height"])
    assert {"width": detect["width"], "height": detect["height"]} == served["image"]
    assert [(r["source"], float(r["score"]), [float(r[k]) for k in ("x1", "y1", "x2", "y2")]) for r in crop] == \
        [(detect["file"], f["score"], f["box"]) for f in detect["faces"]]
