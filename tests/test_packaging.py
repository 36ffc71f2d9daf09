"""The package's own metadata installs without setuptools warnings (issue 29, friction 9)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_pyproject_reads_without_deprecation_warnings() -> None:
    setuptools = pytest.importorskip("setuptools")
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (77, 0):
        pytest.skip("setuptools < 77 does not read SPDX license strings")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # project.license as a table is a SetuptoolsDeprecationWarning
        dist = apply_configuration(Distribution(), str(PYPROJECT))
    assert getattr(dist.metadata, "license_expression", None) == "MIT"
