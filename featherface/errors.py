"""Exception types of FeatherFace.

Every error we raise on purpose derives from :class:`FeatherFaceError`, so a caller (or the CLI)
can catch ours and print a one-line message while letting genuine bugs surface.
"""

from __future__ import annotations


class FeatherFaceError(Exception):
    """Base class of all errors FeatherFace raises on purpose."""


class ImageError(FeatherFaceError):
    """An input image is missing, unreadable, corrupt, empty or of an unsupported kind."""


class WeightsError(FeatherFaceError):
    """A weights file is missing, corrupt, of another architecture, or otherwise unusable."""


class LabelFormatError(FeatherFaceError):
    """A label, ground-truth or prediction file has a malformed line (message names file:line)."""


class ConfigError(FeatherFaceError):
    """A configuration value is invalid."""


class OutputError(FeatherFaceError):
    """An output path cannot be written, or writing it would replace a file the user did not name
    as an output (one of the run's inputs, a folder, a file of another kind)."""
