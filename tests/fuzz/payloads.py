"""Hostile pickles for the weights-file cases (:func:`tests.fuzz.campaign.weights_cases`): objects whose
unpickling would run code. Loading a weights file must refuse them, so the marker file they would
create never appears. Test fixtures only; never part of the installed package."""

from __future__ import annotations

import os
from typing import Any


class CodeOnLoad:
    """An object whose unpickling runs ``open(marker, "w")``: a stand-in for malicious code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


class SystemOnLoad:
    """An object whose unpickling runs ``os.system("touch marker")``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))
