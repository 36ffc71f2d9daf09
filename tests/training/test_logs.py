"""The training logs: the CSV step log cut back on resume (rows past the step and rows a kill cut short)."""

from __future__ import annotations

from pathlib import Path

from featherface.training.logs import CsvLog


def test_csv_log_resume_drops_later_and_cut_short_rows(tmp_path: Path) -> None:
    """On resume the step log keeps the rows up to the resumed step; a row a kill cut short is
    dropped, and the rewrite goes through an atomic replace (no temporary file left behind)."""
    path = tmp_path / "log.csv"
    path.write_text("step,loss\n1,0.5\n2,0.4\n3,0.3\n4,0.\n5\n", newline="")
    log = CsvLog(path, ["step", "loss"])
    log.truncate_after("step", 4)
    assert path.read_text().splitlines() == ["step,loss", "1,0.5", "2,0.4", "3,0.3", "4,0."]
    log.truncate_after("step", 2)
    assert path.read_text().splitlines() == ["step,loss", "1,0.5", "2,0.4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]
