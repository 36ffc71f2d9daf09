"""``featherface list``: the registered models and whether trained weights ship for them."""

from __future__ import annotations

import argparse


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="list available models", description="List the registered model names.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featherface.models import create_model, describe_model, list_models
    from featherface.summary import count_parameters
    from featherface.weights import BUILTIN_WEIGHTS

    print(f"| {'model':<22} | {'params':>9} | {'weights':<8} | description")
    print(f"|{'-' * 24}|{'-' * 11}|{'-' * 10}|------------")
    for name in list_models():
        n = count_parameters(create_model(name))
        shipped = "shipped" if name in BUILTIN_WEIGHTS else "-"
        print(f"| {name:<22} | {n:>9,} | {shipped:<8} | {describe_model(name)}")
    return 0
