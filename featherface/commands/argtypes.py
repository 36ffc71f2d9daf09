"""Argument types of the ``featherface`` verbs: numbers checked where argparse reads them.

A value outside its range is refused by the parser itself, as one line
``featherface VERB: error: argument --opt: must be >= 1, got 0`` and exit code 2, before any
model is built or file touched. Every factory returns a callable usable as ``type=`` whose
``__name__`` reads well in argparse's own messages.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

__all__ = ["output_path", "int_range", "float_range", "positive_int", "nonneg_int", "unit_float", "positive_float",
           "nonneg_float", "finite_float", "open_unit_float", "fraction_float"]


def _parse_int(text: str) -> int:
    s = str(text).strip()
    try:
        if "_" in s:  # int("1_000") is valid Python but not a number a user means on a command line
            raise ValueError(s)
        return int(s)
    except ValueError:
        # "2.0" / "1e3" are whole numbers written as floats: accept them, refuse "1.5"
        try:
            f = float(s) if "_" not in s else math.nan
        except ValueError:
            f = math.nan
        if math.isfinite(f) and f.is_integer():
            return int(f)
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _parse_float(text: str) -> float:
    s = str(text).strip()
    try:
        if "_" in s:
            raise ValueError(s)
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def int_range(lo: int | None = None, hi: int | None = None, name: str = "int") -> Callable[[str], int]:
    """A whole number in ``[lo, hi]`` (either bound may be open-ended with ``None``)."""

    def conv(text: str) -> int:
        v = _parse_int(text)
        if lo is not None and v < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}" + (f" and <= {hi}" if hi is not None else "")
                                             + f", got {v}")
        if hi is not None and v > hi:
            raise argparse.ArgumentTypeError(f"must be <= {hi}, got {v}")
        return v

    conv.__name__ = name
    return conv


def float_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
                name: str = "float") -> Callable[[str], float]:
    """A finite number in the interval (NaN and +-inf always refused)."""
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    what = (f"in {left}{lo:g}, {hi:g}{right}" if lo is not None and hi is not None
            else f"{'>' if lo_open else '>='} {lo:g}" if lo is not None
            else f"{'<' if hi_open else '<='} {hi:g}" if hi is not None else "finite")

    def conv(text: str) -> float:
        v = _parse_float(text)
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number{'' if what == 'finite' else ' ' + what}, "
                                             f"got {text!r}")
        bad = (lo is not None and (v < lo or (lo_open and v == lo))) or \
              (hi is not None and (v > hi or (hi_open and v == hi)))
        if bad:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return v

    conv.__name__ = name
    return conv


positive_int = int_range(1, name="positive_int")
nonneg_int = int_range(0, name="nonneg_int")
finite_float = float_range(name="finite_float")
unit_float = float_range(0.0, 1.0, name="unit_float")          # score thresholds: [0, 1]
open_unit_float = float_range(0.0, 1.0, lo_open=True, name="iou")  # IoU / NMS thresholds: (0, 1]
fraction_float = float_range(0.0, 1.0, hi_open=True, name="fraction")  # hold-out fractions: [0, 1)
positive_float = float_range(0.0, lo_open=True, name="positive_float")
nonneg_float = float_range(0.0, name="nonneg_float")


def output_path(text: str) -> str:
    """An output path as typed: refused when empty (``--json ""`` must not silently mean "none")
    or holding a NUL byte; everything else is checked by :mod:`featherface.io.outputs` before the work."""
    if not str(text).strip():
        raise argparse.ArgumentTypeError("empty path")
    if "\x00" in str(text):
        raise argparse.ArgumentTypeError("path contains a NUL byte")
    return text
