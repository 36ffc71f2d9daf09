"""The real human-labelled sets under ../shared/data (skipped when absent): readers and a 3-image run."""

from __future__ import annotations

import pytest

from featherface.data.benchmarks import load_caltech, load_cuhk, load_voc_dir
from featherface.evaluation.human import evaluate_human, human_set_dirs
from featherface.peers.factory import build_detectors

pytestmark = pytest.mark.shared


@pytest.fixture()
def sets(shared_dir):
    root = shared_dir / "data"
    try:
        return human_set_dirs(root)
    except Exception as exc:  # a checkout of ../shared without these sets
        pytest.skip(str(exc))


def test_real_readers(sets):
    fm = load_voc_dir(sets["facemask"])
    assert len(fm) == 853 and sum(len(a.boxes) for a in fm) == 4072
    assert fm[0].source.name == "maksssksksss0.xml" and len(fm[0].boxes) == 3  # the stray-text file
    val = load_caltech(sets["caltech"])
    assert len(val) == 523 and val[0].key == "pic00020.jpg"  # the autolabel --val-fraction 0.1 hold-out
    assert len(load_cuhk(sets["cuhk"])) == 2027


def test_real_three_image_run(sets):
    dets, skipped = build_detectors(["yunet"])
    if not dets:
        pytest.skip("; ".join(skipped))
    res = evaluate_human(dets, facemask=sets["facemask"], caltech=sets["caltech"], cuhk=sets["cuhk"],
                         limit=3, progress=False)
    r = res.report("yunet")
    assert r.sets["facemask"].images == 3 and r.sets["facemask"].ap > 0.3
    assert r.sets["caltech"].recall > 0.5 and r.sets["cuhk"].found_rate > 0.5
    assert "| yunet |" in res.markdown()
