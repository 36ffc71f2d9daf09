"""The ``featherface`` command: one entry point with verbs (detect, info, list, train, eval, ...).

Each verb lives in ``featherface/commands/<verb>.py`` and exposes ``add_parser(subparsers)``,
which registers its options and sets ``func=run``; ``run(args) -> int`` returns the exit code.
Verbs are imported lazily so ``featherface --help`` stays fast and one broken optional dependency
(say onnxruntime) does not take the other verbs down.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from featherface import __version__
from featherface.errors import FeatherFaceError

# verb -> module under featherface.commands
COMMANDS: dict[str, str] = {
    "detect": "detect",
    "info": "info",
    "list": "list_models",
    "eval": "evaluate",
    "train": "train",
    "export": "export",
    "bench": "bench",
    "compare": "compare",
    "autolabel": "autolabel",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featherface",
        description="FeatherFace V2 Ultra / V1 face detection: detect, train, evaluate, export, benchmark.",
    )
    parser.add_argument("--version", action="version", version=f"featherface {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"featherface.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("featherface.commands."):
                continue  # verb not built yet
            raise
        mod.add_parser(sub, verb)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FeatherFaceError as exc:
        print(f"featherface {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"featherface {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
