"""Issue 28, case 4 and ablate's part of case 6: ``ablate`` writes its table only where it is told
(default: the runs folder), never replaces an existing table without ``--force``, and refuses a
latency size past the detector's limit before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from featherface.cli import main

REPO = Path(__file__).resolve().parents[2]


def _cfg(tmp_path: Path) -> Path:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("synthetic_images: 8\nimg_size: 64\nbatch_size: 4\nepochs: 1\nworkers: 0\n"
                   "backbone_init: none\ntensorboard: false\nsave_every: 0\n")
    return cfg


def test_default_table_goes_to_the_runs_folder_not_docs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # where the old default, docs/ablation.json, would be rewritten
    tracked = (REPO / "docs" / "ablation.json").read_bytes()
    runs = tmp_path / "runs"
    rc = main(["ablate", "-c", str(_cfg(tmp_path)), "--variants", "base", "--seeds", "0", "-o", str(runs),
               "--report-only", "--no-latency", "--quiet"])
    assert rc == 0 and (runs / "ablation.json").is_file()
    assert (REPO / "docs" / "ablation.json").read_bytes() == tracked


def test_an_existing_table_is_replaced_only_with_force(tmp_path, capsys):
    table = tmp_path / "table.json"
    table.write_text('{"runs": []}\n')
    args = ["ablate", "-c", str(_cfg(tmp_path)), "--variants", "base", "--seeds", "0", "-o", str(tmp_path / "r"),
            "--report-only", "--no-latency", "--quiet", "--json", str(table)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "table.json" in err and "--force" in err
    assert table.read_text() == '{"runs": []}\n'
    assert main(args + ["--force"]) == 0 and "pending" in table.read_text()


@pytest.mark.parametrize("verb", ["ablate", "train"])
def test_binary_config_is_one_line_naming_the_file(verb, tmp_path, capsys):
    cfg = tmp_path / "binary.txt"
    cfg.write_bytes(bytes(range(256)) * 4)
    args = [verb, "-c", str(cfg)] + (["--report-only", "-o", str(tmp_path / "r")] if verb == "ablate" else [])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "binary.txt" in err and "internal error" not in err


def test_latency_size_is_bounded_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["ablate", "-c", str(_cfg(tmp_path)), "--latency-size", "100000"])
    assert exc.value.code == 2
    assert "--latency-size" in capsys.readouterr().err
