"""Average weights files of one training lineage: ``python tools/average_weights.py A.pt B.pt --mix 0.5 0.5 -o out.pt``.

A maintainer's step of ``tools/make_default_weights.sh`` (the library function is
``featherface.training.average_weights``); each mix must be evaluated before it is shipped.
"""

from __future__ import annotations

import argparse
import sys

from featherface.errors import FeatherFaceError
from featherface.training.soup import save_average


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="weights files of one architecture (two or more)")
    ap.add_argument("--mix", type=float, nargs="+", default=None, help="one share per file (default: equal)")
    ap.add_argument("-o", "--output", required=True, help="the averaged weights file to write")
    args = ap.parse_args(argv)
    try:
        out = save_average(args.files, args.output, args.mix)
    except (FeatherFaceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
