"""Flags generated from a dataclass's fields: the one mechanism behind every verb's generated flags.

A verb says how each field appears on the command line (a :class:`FieldFlag`: help text, type,
spellings, ``--help`` group) and :func:`add_dataclass_flags` adds ``--field-name`` with the
dataclass's own default, so a flag and the Python keyword share one name and one default and a new
field is a new flag. It builds the flags of ``DetectorOptions`` (every verb that runs a detector,
:mod:`featherface.commands.options`), ``AnonymizeOptions`` (``blur``), ``CropOptions`` (``crop``)
and ``TrainConfig`` (``train``).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar

T = TypeVar("T")

__all__ = ["FieldFlag", "add_dataclass_flags", "flag_name", "read_dataclass_flags", "show_default"]


@dataclass(frozen=True)
class FieldFlag:
    """How one dataclass field appears as a flag (the default is never here: it is the dataclass's)."""

    help: str
    type: Callable[[str], Any] | None = None  # checks the value where argparse reads it (bounds, paths)
    flag: str | None = None  # the flag's name when it is not ``--field-name`` (``--labels`` for label_file)
    aliases: tuple[str, ...] = ()  # other spellings: old names, a short ``-b`` (listed first in --help)
    choices: tuple[Any, ...] | None = None
    metavar: str | None = None
    action: Any = None  # "store_true" (a switch, off unless given) or argparse.BooleanOptionalAction
    nargs: str | None = None  # "+" (a list field), "?" with ``const`` (a bare flag means ``const``)
    const: Any = None
    group: str | None = None  # title of the --help group the flag goes to


def flag_name(field: str) -> str:
    """``score_threshold`` -> ``--score-threshold``."""
    return "--" + field.replace("_", "-")


def show_default(value: Any) -> str | None:
    """A default as --help shows it (``None``, empty: not shown; bools: on/off; floats: ``%g``)."""
    if value is None or value == {} or value == "" or value == () or value == []:
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def add_dataclass_flags(parser: Any, defaults: Any, flags: Mapping[str, FieldFlag],
                        names: Iterable[str] | None = None, *, overrides: Mapping[str, Any] | None = None,
                        helps: Mapping[str, str] | None = None, absent: bool = False,
                        title: str | None = None, groups: dict[str, Any] | None = None) -> list[str]:
    """Add one flag per field in ``names`` (default: every field of ``flags``) to ``parser``.

    ``defaults``: an instance of the dataclass (its values are the flags' defaults, shown in --help);
    ``overrides`` replaces some for this verb (``None``: "not given", for a verb that decides later);
    ``helps`` replaces help texts. ``absent``: every flag defaults to "not on the Namespace"
    (``argparse.SUPPRESS``), for a verb that layers flags over a file (``train``); --help still
    shows the dataclass's default. A flag goes to its group (``groups[title]``, created on first
    use: pass ``groups`` to order them), else to one group titled ``title``, else to ``parser``.
    Returns the fields added.
    """
    names = list(flags) if names is None else list(names)
    overrides, helps = dict(overrides or {}), dict(helps or {})
    unknown = [n for n in [*names, *overrides, *helps] if n not in flags]
    if unknown:
        raise ValueError(f"no flag declared for {', '.join(unknown)} ({type(defaults).__name__})")
    shared = parser.add_argument_group(title) if title else parser
    groups = {} if groups is None else groups
    for name in names:
        spec = flags[name]
        default = overrides[name] if name in overrides else getattr(defaults, name)
        target = shared
        if spec.group is not None:
            if spec.group not in groups:
                groups[spec.group] = parser.add_argument_group(spec.group)
            target = groups[spec.group]
        text = helps.get(name, spec.help)
        if "%(" not in text:  # a help that uses argparse's own %(default)s keeps its % signs
            text = text.replace("%", "%%")
        shown = None if spec.action == "store_true" else show_default(default)
        if shown is not None and "%(default)" not in text and "(default" not in text:
            # argparse's own %(default)s where it has the value (ArgumentDefaultsHelpFormatter then adds none)
            own = not absent and shown == str(default)
            text += " (default: %(default)s)" if own else f" (default: {shown.replace('%', '%%')})"
        kw: dict[str, Any] = dict(dest=name, default=argparse.SUPPRESS if absent else default, help=text)
        if spec.action is not None:
            kw["action"] = spec.action
        else:
            for key in ("type", "choices", "metavar", "nargs", "const"):
                value = getattr(spec, key)
                if value is not None:
                    kw[key] = value
        long_name = spec.flag or flag_name(name)
        short = [a for a in spec.aliases if not a.startswith("--")]
        target.add_argument(*short, long_name, *[a for a in spec.aliases if a not in short], **kw)
    return names


def read_dataclass_flags(args: argparse.Namespace, base: T, names: Iterable[str]) -> T:
    """``base`` with the fields in ``names`` that the parsed flags give (present and not ``None``)."""
    given = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    return dataclasses.replace(base, **given)  # type: ignore[type-var]
