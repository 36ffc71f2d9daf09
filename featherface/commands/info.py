"""``featherface info MODEL``: per-block parameter table (vs. the design sheet, or for
RetinaFace-mnet0.25 vs. the authors' release file), size and GFLOPs."""

from __future__ import annotations

import argparse

import yaml

from featherface.commands.argtypes import int_range
from featherface.errors import ConfigError
from featherface.inference.options import DetectorOptions

# the FLOP count runs the network once on a zero image of that size: bound it like detect --input-size
MAX_INFO_SIZE = 4096


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="parameter table, size and GFLOPs of a model",
                       description="Print the per-block parameter table of MODEL next to its reference figures "
                                   "(FeatherFace V2: the design sheet; retinaface-mnet025: the authors' release "
                                   "file), the total, the fp32 size and the GFLOPs at the given input size.")
    p.add_argument("model", nargs="?", default=DetectorOptions.model,
                   help="model name (see `featherface list`; default: %(default)s)")
    p.add_argument("--size", type=int_range(1, MAX_INFO_SIZE, name="size"), nargs="+", default=[640], metavar="N",
                   help="input size for GFLOPs: N (square) or H W (default 640)")
    p.add_argument("--no-flops", action="store_true", help="skip the FLOP count")
    p.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE",
                   help="override config fields, e.g. --set dynamic_sharing=false fpn_channels=48")
    p.set_defaults(func=run)


def parse_overrides(items: list[str]) -> dict:
    """``["a=1", "b=false"]`` -> ``{"a": 1, "b": False}`` (YAML scalars)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not KEY=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError:
            out[k.strip()] = v
    return out


def run(args: argparse.Namespace) -> int:
    # torch: imported on use, not for ``featherface --help``
    from featherface.models import create_model
    from featherface.models.summary import format_info

    if len(args.size) not in (1, 2):
        raise ConfigError("--size takes N or H W")
    h, w = (args.size[0], args.size[0]) if len(args.size) == 1 else args.size
    model = create_model(args.model, **parse_overrides(args.set))
    print(format_info(model, h, w, flops=not args.no_flops))
    return 0
