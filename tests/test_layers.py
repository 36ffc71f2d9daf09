"""Imports point down (issue 12), checked on the source, lazy imports inside functions included.

Floors, low to high: io/ ops/ models/ (with errors, types, device, format, lazy, visualize) ->
data/ inference/ -> training/ evaluation/ export/ peers/ (with autolabel, negatives) -> tools/ -> commands/
and the CLI. A module imports its own floor or lower ones; the lower floors never import the
exporter; only commands/ imports the tools; the fuzz campaign is a test tool, not in the package;
no module imports another's private names; the shared folder is located in one place.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "featherface"
LOWER_FLOORS = ("inference", "peers", "training", "data", "evaluation", "ops", "models", "io", "serve")
FLOORS = {
    **dict.fromkeys(("errors", "types", "device", "format", "lazy", "io", "ops", "models", "visualize"), 0),
    **dict.fromkeys(("data", "inference"), 1),
    **dict.fromkeys(("training", "evaluation", "export", "peers", "autolabel", "negatives"), 2),
    **dict.fromkeys(("tools", "serve"), 3),
    **dict.fromkeys(("commands", "cli"), 4),
}


def home(path: Path) -> str:
    """``featherface/<home>/...`` or ``featherface/<home>.py``: the top-level name a file belongs to."""
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else rel[0][: -len(".py")]


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


@pytest.mark.parametrize("floor", LOWER_FLOORS)
def test_lower_floors_do_not_import_the_exporter(floor):
    folder = PACKAGE / floor
    if not folder.is_dir():
        pytest.skip(f"featherface/{floor} does not exist")
    offenders = sorted(
        f"{p.relative_to(PACKAGE.parent)}: {m}"
        for p in folder.rglob("*.py")
        for m in imported_modules(p)
        if m == "featherface.export" or m.startswith("featherface.export.")
    )
    assert not offenders, offenders


def test_import_featherface_loads_no_optional_extra_and_no_exporter():
    """The backends import onnxruntime / onnx on use only, and the exporter is wired in lazily."""
    code = ("import sys, featherface, featherface.inference.backends, featherface.peers.base; "
            "print(sorted(m for m in ('onnxruntime', 'onnx', 'featherface.export') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_import_featherface_is_cheap():
    """``import featherface`` loads neither torch nor OpenCV (FaceDetector & co. load on first use), and
    the detector's module does not load torch either (a cached ONNX export runs without it), while
    ``create_model`` does."""
    code = ("import sys, featherface; print(sorted(m for m in ('torch', 'cv2', 'onnxruntime') if m in sys.modules)); "
            "featherface.FaceDetector; print('torch' in sys.modules); featherface.create_model; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["[]", "False", "True"], out.stdout + out.stderr


def test_imports_point_down_a_floor_or_stay_on_it():
    offenders = []
    for path in package_files():
        src = home(path)
        if src not in FLOORS:  # the package root (__init__, __main__) and homes not on the map yet
            continue
        for m in imported_modules(path):
            parts = m.split(".")
            target = parts[1] if len(parts) > 1 and parts[0] == "featherface" else None
            if target in FLOORS and FLOORS[target] > FLOORS[src]:
                offenders.append(f"{path.relative_to(REPO)}: {m} (floor {FLOORS[src]} -> {FLOORS[target]})")
    assert not offenders, offenders


def test_only_the_commands_import_the_tools():
    offenders = sorted(
        f"{p.relative_to(REPO)}: {m}"
        for p in package_files()
        if home(p) not in ("commands", "tools")
        for m in imported_modules(p)
        if m == "featherface.tools" or m.startswith("featherface.tools.")
    )
    assert not offenders, offenders


def test_tools_and_the_fuzz_campaign_are_out_of_the_library_root():
    """The measuring tools live in featherface/tools; the fuzz campaign (a test tool, with its hostile
    pickles) lives in tests/fuzz and is not installed; the package never imports the tests."""
    assert not [n for n in ("compare.py", "benchmark.py", "fuzz.py") if (PACKAGE / n).exists()]
    assert (REPO / "tests" / "fuzz" / "campaign.py").is_file()
    offenders = sorted(f"{p.relative_to(REPO)}: {m}" for p in package_files() for m in imported_modules(p)
                       if m == "tests" or m.startswith("tests."))
    assert not offenders, offenders


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for path in package_files() + sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                    and node.module.split(".")[0] in ("featherface", "tests"):
                offenders += [f"{path.relative_to(REPO)}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offenders, offenders


def test_the_shared_folder_is_located_in_one_place():
    """``../shared`` is found by featherface.io.paths alone (FEATHERFACE_SHARED_DIR, else beside the checkout)."""
    offenders = sorted(str(p.relative_to(REPO)) for p in package_files()
                       if p != PACKAGE / "io" / "paths.py" and '"shared"' in p.read_text(encoding="utf-8"))
    assert not offenders, offenders
