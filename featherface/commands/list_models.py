"""``featherface list``: the registered models and where their trained weights come from."""

from __future__ import annotations

import argparse


def add_parser(sub: "argparse._SubParsersAction", name: str) -> None:
    p = sub.add_parser(name, help="list available models",
                       description="List the registered model names, their parameter counts and whether "
                                   "trained weights ship with the package or are read by path.")
    p.set_defaults(func=run)


def weights_status(name: str) -> tuple[str, str | None]:
    """(the ``weights`` column, a note line or ``None``) for model ``name``.

    ``shipped``: trained weights are inside the package (``weights="default"``); ``by path``:
    other authors' weights, never shipped, read from a file given by path (RetinaFace-mnet0.25);
    ``-``: none (train your own).
    """
    from featherface.models.weights import BUILTIN_WEIGHTS  # torch: on use, not for ``featherface --help``

    if name in BUILTIN_WEIGHTS:
        return "shipped", None
    from featherface.peers.retinaface import RETINAFACE_ENV, RETINAFACE_MODEL, default_retinaface_weights  # torch

    if name == RETINAFACE_MODEL:
        p = default_retinaface_weights()
        where = f"found at {p}" if p.is_file() else f"not found at {p}"
        return "by path", (f"{name}: the authors' WIDER-trained weights (biubug6/Pytorch_Retinaface, MIT) are not "
                           f"shipped; pass the release file by path: --model {name} --weights PATH/retinaface_mnet025_Final.pth "
                           f"(the peer/teacher 'retinaface' looks in ${RETINAFACE_ENV} or ../shared/weights: {where})")
    return "-", None


def run(args: argparse.Namespace) -> int:
    # torch: imported on use, not for ``featherface --help``
    from featherface.models import create_model, describe_model, list_models
    from featherface.models.summary import count_parameters

    print(f"| {'model':<22} | {'params':>9} | {'weights':<8} | description")
    print(f"|{'-' * 24}|{'-' * 11}|{'-' * 10}|------------")
    notes = []
    for name in list_models():
        n = count_parameters(create_model(name))
        status, note = weights_status(name)
        if note:
            notes.append(note)
        print(f"| {name:<22} | {n:>9,} | {status:<8} | {describe_model(name)}")
    if notes:
        print()
        for note in notes:
            print(note)
    return 0
