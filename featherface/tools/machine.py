"""The machine facts and library versions the tools' numbers depend on, recorded with every result.

:func:`environment` is what ``featherface compare`` writes into its JSON; :func:`machine_info` what
``featherface bench`` writes (CPU model name, platform string, onnx too). Their keys differ because
each is read back by its own report and docs.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import cv2
import numpy as np
import torch


def _load_average() -> list[float] | None:
    try:
        return list(os.getloadavg())  # other work on the machine skews latency
    except (AttributeError, OSError):  # pragma: no cover - not on every OS
        return None


def _version(module: str) -> str | None:
    """``module.__version__`` of an optional extra, ``None`` when it is not installed."""
    try:
        return str(__import__(module).__version__)
    except Exception:  # noqa: BLE001 - an extra that fails to import is simply absent
        return None


def environment() -> dict[str, Any]:
    """Versions and machine facts that numbers depend on (recorded in the comparison's JSON output)."""
    load = _load_average()
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "numpy": np.__version__,
        "load_average_1m": round(load[0], 2) if load else None,
        "onnxruntime": _version("onnxruntime"),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def cpu_name() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def machine_info() -> dict[str, Any]:
    """CPU, core count, load and library versions (recorded with every benchmark result)."""
    info: dict[str, Any] = {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "python": platform.python_version(),
                            "torch": torch.__version__, "platform": platform.platform()}
    load = _load_average()
    if load is not None:
        info["load_average"] = load
    for mod in ("onnxruntime", "onnx", "cv2"):
        v = _version(mod)
        if v is not None:
            info[mod] = v
    return info
