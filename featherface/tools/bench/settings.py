"""The benchmark grid (:class:`BenchSettings`) and the names the tables use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from featherface.errors import ConfigError
from featherface.models.registry import list_models

MODELS = ("featherface-v1", "featherface-v2-ultra")
SHORT = {"featherface-v1": "V1", "featherface-v2-ultra": "V2 Ultra", "featherface-v2-base": "V2 base",
         "opencv-haar": "OpenCV Haar"}
BACKENDS = ("torch", "torch-opt", "onnx-fp32", "onnx-int8", "haar")
TORCH_BACKENDS = ("torch", "torch-opt")
MEMORY_BACKENDS = ("torch", "torch-opt", "onnx-fp32", "onnx-int8")
RUNTIME_LABEL = {"torch": "torch", "torch-opt": "torch-opt", "onnx-fp32": "ORT fp32", "onnx-int8": "ORT INT8"}
RUNTIME_LEGEND = ("torch = PyTorch eager; torch-opt = PyTorch eager after optimize_for_inference (BatchNorm folded, "
                  "channels_last); ORT fp32 / ORT INT8 = onnxruntime CPU on the fp32 / INT8 (QDQ) ONNX file")
HAAR = "opencv-haar"
HELD_OUT_IMAGES = 4  # images kept out of calibration, for the INT8-vs-fp32 check
PROFILE_SIZE = 640


@dataclass
class BenchSettings:
    """The benchmark grid. Defaults are the full grid of ``docs/deployment.md``."""

    models: list[str] = field(default_factory=lambda: list(MODELS))
    sizes: list[int] = field(default_factory=lambda: [640, 320])
    batches: list[int] = field(default_factory=lambda: [1, 8])
    threads: list[int] = field(default_factory=lambda: [1, 2])
    backends: list[str] = field(default_factory=lambda: list(BACKENDS))
    repeats: int = 20
    warmup: int = 3
    images: str | None = None  # folder of photos for inputs/calibration; None: shared photos or synthetic
    calibration_images: int = 8
    calibration_size: int | None = None  # default: the largest benchmarked size
    weights: dict[str, str] = field(default_factory=dict)  # model name -> weights file (optional)
    memory: bool = True
    profile: bool = True
    workdir: str | None = None  # where ONNX files are written (default: a temporary folder)
    seed: int = 0

    @classmethod
    def quick(cls, **kw: Any) -> "BenchSettings":
        """A ~1-minute preset: 320x320, batch 1, one thread, 5 repeats, no memory probe or profile."""
        base = dict(sizes=[320], batches=[1], threads=[1], repeats=5, warmup=1, memory=False, profile=False,
                    calibration_images=4)
        base.update(kw)
        return cls(**base)

    def validate(self) -> None:
        bad = [b for b in self.backends if b not in BACKENDS]
        if bad:
            raise ConfigError(f"unknown backend(s) {bad}; choose from {', '.join(BACKENDS)}")
        if any(s % 32 or s < 32 for s in self.sizes):
            raise ConfigError(f"sizes must be multiples of 32, got {self.sizes}")
        if any(b < 1 for b in self.batches) or any(t < 1 for t in self.threads) or self.repeats < 1:
            raise ConfigError("batches, threads and repeats must be >= 1")
        unknown = [m for m in self.models if m not in list_models()]
        if unknown:
            raise ConfigError(f"unknown model(s) {unknown}")

    @property
    def needs_onnx(self) -> bool:
        """Whether ONNX files are written: an ORT backend, or the memory probes (which run them)."""
        return any(b.startswith("onnx") for b in self.backends) or self.memory
