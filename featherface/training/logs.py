"""What a training run logs: the CSV step and epoch logs (cut back on resume) and TensorBoard scalars.

``train_log.csv`` gets a row every ``log_every`` steps (:data:`STEP_LOG_FIELDS`), ``epochs.csv`` one
per epoch (:data:`EPOCH_LOG_FIELDS`); both are append-only, and a resumed run first drops the rows
past the step it resumes from, so a log never holds the same step twice.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence

from featherface.io.outputs import atomic_write_bytes

__all__ = ["EPOCH_LOG_FIELDS", "STEP_LOG_FIELDS", "CsvLog", "TensorBoardLog"]

STEP_LOG_FIELDS = ["epoch", "step_in_epoch", "global_step", "lr", "loss", "loc", "cls", "ldm", "distill",
                   "images_per_s", "time"]
EPOCH_LOG_FIELDS = ["epoch", "global_step", "loss", "loc", "cls", "ldm", "distill", "val_loss", "skipped_images",
                    "seconds"]


def _row_at_or_before(row: dict[str, str | None], key: str, value: float) -> bool:
    """A complete log row at or before ``value`` (a row cut short by a kill mid-append is dropped)."""
    if None in row.values() or row.get(None) is not None:  # type: ignore[call-overload]
        return False
    try:
        return float(row.get(key) or "nan") <= value
    except ValueError:
        return False


class CsvLog:
    """Append-only CSV with a header; on resume, rows past the resumed step are dropped."""

    def __init__(self, path: Path, fields: Sequence[str]) -> None:
        self.path = path
        self.fields = list(fields)

    def truncate_after(self, key: str, value: float) -> None:
        if not self.path.is_file():
            return
        with self.path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if _row_at_or_before(r, key, value)]
        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=self.fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        # atomic: a kill during the rewrite leaves the old log, never a half-written one
        atomic_write_bytes(buf.getvalue().encode("utf-8"), self.path)

    def write(self, row: dict[str, Any]) -> None:
        new = not self.path.is_file() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


class TensorBoardLog:
    """TensorBoard scalars under ``log_dir`` when the tensorboard package is installed; else nothing."""

    def __init__(self) -> None:
        self.writer: Any = None

    def open(self, log_dir: Path, purge_step: int | None) -> None:
        try:  # tensorboard is an optional extra (featherface[train]): imported on use
            from torch.utils.tensorboard import SummaryWriter
        except Exception:  # noqa: BLE001 - tensorboard not installed: CSV only
            return
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(f"{prefix}/{k}", v, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
