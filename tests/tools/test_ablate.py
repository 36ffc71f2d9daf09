"""The ablation command on a tiny synthetic run, and the verdict rule of its table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from featherface.cli import main
from featherface.errors import ConfigError
from featherface.tools.ablate import format_table, format_variants, summarise, variants
from tests.evaluation.test_human import make_sets


def test_variants_cover_the_design() -> None:
    names = [v.name for v in variants()]
    assert names[:2] == ["base", "ultra"] and names[-3:] == ["v1", "ultra+spatial_norm", "ultra+attention_residual"]
    assert len(names) == 15
    base = variants(["base"])[0]
    assert not any(base.overrides.values())
    with pytest.raises(ConfigError, match="unknown ablation variant"):
        variants(["nope"])


def test_a_variant_with_other_architecture_options() -> None:
    v = variants(["ultra+attention_residual:fpn_channels=64, ssh_groups=2"])[0]
    assert v.model == "featherface-v2-ultra" and v.parent == "ultra+attention_residual"
    assert v.overrides["fpn_channels"] == 64 and v.overrides["ssh_groups"] == 2 and v.overrides["attention_residual"] is True
    assert v.slug == "ultra+attention_residual_fpn_channels_64_ssh_groups_2"
    assert variants(["base"])[0].slug == "base"
    for bad, why in [("nope:fpn_channels=64", "unknown base variant"), ("ultra:fpn_channels", "not KEY=VALUE"),
                     ("ultra:colour=red", "not an architecture option"), ("ultra:fpn_channels=[", "cannot read"),
                     ("ultra:fpn_channels=abc", "ultra:fpn_channels=abc")]:
        with pytest.raises(ConfigError, match=why):
            variants([bad])
    recs = [{"variant": "ultra+attention_residual", "wider_hard": h, "params": 246551} for h in (0.50, 0.52)]
    recs += [{"variant": v.name, "wider_hard": h, "params": 304231} for h in (0.60, 0.61)]
    row = next(r for r in summarise(recs, "wider_hard", custom=[v]) if r["technique"].startswith(v.name))
    assert row["removed"]["delta"] == pytest.approx(9.5) and row["removed"]["verdict"] == "real"
    table = format_variants(recs, "wider_hard")
    assert "| ultra+attention_residual | 246,551 | 51.00 | 2.00 | 2 |" in table and "304,231 | 60.50 | 1.00 | 2 |" in table


def test_verdict_needs_more_than_the_seed_spread() -> None:
    recs = []
    for seed, (u, b, nf) in enumerate([(0.60, 0.50, 0.59), (0.62, 0.52, 0.63)]):
        recs += [{"variant": "ultra", "facemask_ap": u, "params": 246551},
                 {"variant": "base", "facemask_ap": b, "params": 230000},
                 {"variant": "ultra-feature_reuse", "facemask_ap": nf, "params": 246551}]
    rows = {r["technique"]: r for r in summarise(recs)}
    assert rows["all five (ultra vs base)"]["removed"]["verdict"] == "real"  # +10 points, spread 2
    fr = rows["feature_reuse"]["removed"]
    assert fr["verdict"] == "within noise" and fr["delta"] == pytest.approx(0.0, abs=1e-9)
    assert rows["dynamic_sharing"]["removed"] is None
    table = format_table(list(rows.values()))
    assert "+1.0" in table and "within noise" in table and "real" in table
    assert "dynamic_sharing" not in table  # neither of its comparisons was run


def test_ablate_command_on_a_tiny_synthetic_run(tmp_path: Path) -> None:
    root = make_sets(tmp_path / "data")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("synthetic_images: 8\nimg_size: 64\nbatch_size: 4\nepochs: 1\nworkers: 0\n"
                   "backbone_init: none\ntensorboard: false\nsave_every: 0\n")
    out = tmp_path / "ablation.json"
    rc = main(["ablate", "-c", str(cfg), "--variants", "base", "ultra", "--seeds", "0", "1", "--max-steps", "1",
               "-o", str(tmp_path / "runs"), "--human-sets", str(root), "--caltech-split", "all", "--json", str(out),
               "--latency-size", "64", "--quiet"])
    assert rc == 0
    doc = json.loads(out.read_text())
    # latency per variant, and its difference in the table's "all five" row
    assert set(doc["latency"]) == {"base", "ultra"} and all(v["cpu_ms"] > 0 and v["size"] == 64
                                                           for v in doc["latency"].values())
    all_five = next(r for r in doc["summary"] if r["technique"] == "all five (ultra vs base)")
    assert all_five["removed"]["latency_delta_ms"] == pytest.approx(
        doc["latency"]["ultra"]["cpu_ms"] - doc["latency"]["base"]["cpu_ms"], abs=0.011)
    assert "--latency-size 64" in doc["command"]
    assert len(doc["runs"]) == 4 and {r["variant"] for r in doc["runs"]} == {"base", "ultra"}
    assert all(r["steps"] == 1 and "facemask_ap" in r and r["params"] > 0 for r in doc["runs"])
    assert doc["summary"][-5]["technique"] == "all five (ultra vs base)" and doc["command"].startswith("featherface ablate")
    # resumable: a second call reuses the finished runs
    rc = main(["ablate", "-c", str(cfg), "--variants", "base", "--seeds", "0", "--max-steps", "1",
               "-o", str(tmp_path / "runs"), "--json", str(tmp_path / "again.json"), "--no-latency", "--quiet"])
    # --report-only: nothing trained, unfinished variants listed as pending
    rc = main(["ablate", "-c", str(cfg), "--variants", "base", "v1", "--seeds", "0", "-o", str(tmp_path / "runs"),
               "--report-only", "--json", str(tmp_path / "report.json"), "--no-latency", "--quiet"])
    report = json.loads((tmp_path / "report.json").read_text())["runs"]
    assert rc == 0 and [r["status"] for r in report] == ["finished", "pending"]
    assert not (tmp_path / "runs" / "v1-s0").exists()
    again = json.loads((tmp_path / "again.json").read_text())["runs"][0]
    assert rc == 0 and again["steps"] == 1
    # ... and their saved scores: no sets given now, yet the same weights keep the scores of the first call
    # only when the evaluation was the same; here it was not (no --human-sets), so none are reused
    assert "facemask_ap" not in again
    cache = tmp_path / "runs" / "base-s0" / "ablation_eval.json"
    first = json.loads(cache.read_text())
    assert first["key"]["weights_sha256"] and first["scores"]["params"] > 0


def test_ablate_reuses_the_saved_scores_of_the_same_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import featherface.tools.ablate as ablate

    root = make_sets(tmp_path / "data")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("synthetic_images: 8\nimg_size: 64\nbatch_size: 4\nepochs: 1\nworkers: 0\n"
                   "backbone_init: none\ntensorboard: false\nsave_every: 0\n")
    args = ["ablate", "-c", str(cfg), "--variants", "base", "--seeds", "0", "--max-steps", "1", "-o",
            str(tmp_path / "runs"), "--human-sets", str(root), "--caltech-split", "all", "--no-latency", "--quiet"]
    assert main(args + ["--json", str(tmp_path / "a.json")]) == 0
    calls: list[object] = []
    real = ablate.evaluate_human

    def counting(*a: object, **k: object) -> object:
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(ablate, "evaluate_human", counting)
    assert main(args + ["--json", str(tmp_path / "b.json")]) == 0
    a, b = (json.loads((tmp_path / n).read_text())["runs"][0] for n in ("a.json", "b.json"))
    assert calls == [] and a == b and a["facemask_ap"] is not None
    # other weights under the same run folder: scored again
    cache = tmp_path / "runs" / "base-s0" / "ablation_eval.json"
    doc = json.loads(cache.read_text())
    doc["key"]["weights_sha256"] = "0" * 64
    cache.write_text(json.dumps(doc))
    assert main(args + ["--json", str(tmp_path / "c.json")]) == 0
    assert len(calls) == 1 and json.loads(cache.read_text())["key"]["weights_sha256"] != "0" * 64


def test_an_interrupted_run_stops_the_ablation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C inside one variant's training must not start the next variant (nor score a half-trained one)."""
    import featherface.tools.ablate as ablate
    from featherface.training.trainer import TrainResult

    started: list[str] = []

    def interrupted(cfg: object) -> TrainResult:
        started.append(str(getattr(cfg, "output_dir")))
        return TrainResult(Path(str(getattr(cfg, "output_dir"))), 0, 3, 3, "interrupted",
                           best_weights=tmp_path / "half.pt")

    monkeypatch.setattr(ablate, "train", interrupted)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("synthetic_images: 8\nimg_size: 64\nbatch_size: 4\nepochs: 1\nworkers: 0\nbackbone_init: none\n")
    out = tmp_path / "ablation.json"
    rc = main(["ablate", "-c", str(cfg), "--variants", "base", "ultra", "--seeds", "0", "-o", str(tmp_path / "runs"),
               "--json", str(out), "--quiet"])
    assert rc == 130 and len(started) == 1 and not out.exists()


def test_previous_table_carries_runs_whose_folders_are_gone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    root = make_sets(tmp_path / "data")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("synthetic_images: 8\nimg_size: 64\nbatch_size: 4\nepochs: 1\nworkers: 0\n"
                   "backbone_init: none\ntensorboard: false\nsave_every: 0\n")
    common = ["ablate", "-c", str(cfg), "--variants", "base", "--seeds", "0", "--max-steps", "1", "-o",
              str(tmp_path / "runs"), "--no-latency", "--quiet"]
    first = tmp_path / "first.json"
    assert main(common + ["--human-sets", str(root), "--caltech-split", "all", "--json", str(first)]) == 0
    old = json.loads(first.read_text())
    assert old["recipe"] and old["runs"][0]["status"] == "max_steps"
    shutil.rmtree(tmp_path / "runs" / "base-s0")
    # the folder is gone: the run is carried from the earlier table, not trained nor reported pending
    again = tmp_path / "again.json"
    assert main(common + ["--report-only", "--previous", str(first), "--json", str(again)]) == 0
    run = json.loads(again.read_text())["runs"][0]
    assert run["carried_from"] == str(first) and run["facemask_ap"] == old["runs"][0]["facemask_ap"]
    assert not (tmp_path / "runs" / "base-s0").exists() and "--previous" in json.loads(again.read_text())["command"]
    # an earlier table of another recipe carries nothing
    old["recipe"] = "another"
    first.write_text(json.dumps(old))
    assert main(common + ["--report-only", "--previous", str(first), "--json", str(again), "--force"]) == 0
    assert json.loads(again.read_text())["runs"][0]["status"] == "pending"
    # a file that is no table: one line naming it
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    capsys.readouterr()
    assert main(common + ["--report-only", "--previous", str(bad), "--json", str(again), "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.json" in err and "not an ablation table" in err and len(err.splitlines()) == 1


def test_recipe_fingerprint_covers_the_label_file_content(tmp_path: Path) -> None:
    from featherface.tools.ablate import recipe_digest
    from featherface.training.config import TrainConfig

    labels = tmp_path / "labels.txt"
    labels.write_text("# a.jpg\n1 2 3 4\n")
    cfg = TrainConfig.from_dict({"label_file": str(labels), "epochs": 3})
    first = recipe_digest(cfg)
    assert recipe_digest(TrainConfig.from_dict({"seed": 5, "output_dir": "elsewhere"}, cfg)) == first  # per-run keys
    assert recipe_digest(TrainConfig.from_dict({"epochs": 4}, cfg)) != first
    labels.write_text("# a.jpg\n1 2 3 5\n")  # same path, relabelled
    assert recipe_digest(cfg) != first


def test_ablate_scores_wider_face_when_given_the_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The WIDER form of the command (a GPU user's): every run also gets the official easy/medium/hard AP."""
    import cv2
    import numpy as np

    from tests.evaluation._wider_eval_helpers import write_gt_mats

    images = [("0--Parade", "0_Parade_1", [[10, 10, 20, 20]], {"easy": [1], "medium": [1], "hard": [1]}),
              ("0--Parade", "0_Parade_2", [[10, 10, 20, 20]], {"easy": [1], "medium": [1], "hard": [1]})]
    gt = write_gt_mats(tmp_path / "gt", images)  # the folder holds only the first image: a subset
    (tmp_path / "val" / "0--Parade").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "val" / "0--Parade" / "0_Parade_1.jpg"), np.full((64, 64, 3), 128, np.uint8))
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("synthetic_images: 8\nimg_size: 64\nbatch_size: 4\nepochs: 1\nworkers: 0\n"
                   "backbone_init: none\ntensorboard: false\nsave_every: 0\n")
    out = tmp_path / "ablation.json"
    common = ["ablate", "-c", str(cfg), "--variants", "base", "--seeds", "0", "--max-steps", "1", "-o",
              str(tmp_path / "runs"), "--no-latency", "--quiet", "--json", str(out)]
    assert main(common + ["--wider-images", str(tmp_path / "val"), "--wider-gt", str(gt), "--metric", "wider_hard"]) == 0
    doc = json.loads(out.read_text())
    run = doc["runs"][0]
    assert all(0.0 <= run[f"wider_{k}"] <= 1.0 for k in ("easy", "medium", "hard"))
    assert "--wider-images" in doc["command"] and "--metric wider_hard" in doc["command"]
    assert run["wider_subset"]["images"] == 1 and run["wider_subset"]["of"] == 2
    assert "subset: 1 of 2 images" in capsys.readouterr().out + json.dumps(run)
    # a table whose WIDER APs cover other images is never carried into this one
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"runs": [{**run, "wider_subset": {**run["wider_subset"], "key": "different"}}]}))
    shutil.rmtree(tmp_path / "runs")
    assert main(common[:-1] + [str(tmp_path / "again.json"), "--previous", str(other), "--report-only",
                               "--wider-images", str(tmp_path / "val"), "--wider-gt", str(gt)]) == 0
    assert "1 of 1 runs not finished yet" in capsys.readouterr().out  # pending, not carried
    assert json.loads((tmp_path / "again.json").read_text())["runs"][0]["status"] == "pending"
    assert main(common + ["--wider-images", str(tmp_path / "nowhere"), "--wider-gt", str(gt), "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert "nowhere" in err and len(err.splitlines()) == 1
