"""Fast fuzz subset, second campaign (issue 14): every output option of every verb aimed at an
input, a folder, a path under a file, a read-only folder, a file of another kind and an empty path,
plus bad argument values. Each must be refused before any work: exit 2, one line
``featherface VERB: error: ...``, no traceback, no file of the workspace changed."""

from __future__ import annotations

import pytest

from featherface.cli import main
from tests.fuzz.campaign import CliCase, cli_cases, cli_workspace, fill, judge_cli, time_limit, tree_digest

CASES = cli_cases()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli-campaign")
    return base, cli_workspace(base)


def test_the_campaign_covers_every_verb_and_kind():
    verbs = {c.argv[0] for c in CASES}
    assert verbs == {"detect", "export", "autolabel", "compare", "eval", "bench", "train", "info"}
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_before_any_work(case: CliCase, workspace, capsys, monkeypatch):
    base, where = workspace
    if case.needs_ro and not where["{ro}"]:
        pytest.skip("no read-only folder available here")
    monkeypatch.chdir(base / "out")  # default outputs (MODEL.onnx, runs/...) land in the scratch folder
    before = tree_digest(base / "photos") | tree_digest(base / "preds") | {"notes": tree_digest(base)["user-notes.docx"]}
    with time_limit(60, case.name):
        try:
            rc = main(fill(case.argv, where))
        except SystemExit as exc:
            rc = exc.code
    cap = capsys.readouterr()
    after = tree_digest(base / "photos") | tree_digest(base / "preds") | {"notes": tree_digest(base)["user-notes.docx"]}
    why = judge_cli(case, rc, cap.out, cap.err, before, after)
    assert why is None, why
