"""Regenerate the peer comparison of docs/comparison.md (table, JSON, grid picture).

    .venv/bin/python benchmarks/compare_peers.py [--weights W] [extra featherface-compare options]

It is ``featherface compare`` on ../shared/data/photos with the line-up used in the docs; our
detector joins when ``--weights`` is given (or once trained weights ship with the package).
"""

from __future__ import annotations

import sys
from pathlib import Path

from featherface.cli import main
from featherface.io.paths import shared_dir

REPO = Path(__file__).resolve().parents[1]
PHOTOS = shared_dir() / "data" / "photos"
PEERS = "yunet,yunet-s,retinaface,ultraface-rfb320,ultraface-slim320,ultraface-rfb640,haar"


def run(extra: list[str]) -> int:
    """Run the documented comparison; extra arguments are passed on to ``featherface compare``."""
    if not PHOTOS.is_dir():
        print(f"{PHOTOS} is not present; nothing to compare on", file=sys.stderr)
        return 1
    args = [
        "compare", str(PHOTOS), "--peers", PEERS, "--reference", "yunet", "--repeats", "3", "--threads", "1",
        "--json", str(REPO / "runs" / "compare" / "photos.json"),
        "--markdown", str(REPO / "runs" / "compare" / "photos.md"),
        "--grid", str(REPO / "docs" / "images" / "compare_grid.jpg"), "--force",
    ]
    return main(args + extra)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
