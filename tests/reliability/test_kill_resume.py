"""Training survives SIGKILL at any moment, and SIGINT/SIGTERM stop it cleanly.

A tiny run (10 synthetic 96 px pictures, 64 px crops, batch 4 -> 3 steps per epoch, 3 epochs,
9 steps in all, a checkpoint after every step) is started as ``python -m featherface.cli train``
and killed with SIGKILL again and again - while it starts, at a random moment, and right while
``last.pt`` is being written (the moment its temporary file ``.last.pt.*.tmp`` exists) - then
resumed with ``--resume auto`` each time. One round ends with SIGTERM and one with SIGINT
instead, which must exit with code 130 after saving. Checked:

* every ``last.pt`` ever seen (hard-linked the moment it appears, so later renames cannot hide a
  bad one) loads with ``read_checkpoint`` and as weights: never half-written;
* the checkpointed step never goes backwards;
* the final weights, EMA weights and optimizer state equal, bit for bit, those of an
  uninterrupted run of the same steps (run alongside, in its own process).
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from featherface.models.weights import read_weights
from featherface.training.checkpoint import read_checkpoint
from tests.fuzz.campaign import CheckpointWatcher, interrupt_training, single_thread_env, train_command

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 3
TOTAL_STEPS = 3 * EPOCHS


def _differ(a: dict, b: dict) -> list[str]:
    return [k for k in a if k in b and not torch.equal(a[k], b[k])] + sorted(set(a) ^ set(b))


@pytest.mark.slow
def test_sigkill_anywhere_then_resume_equals_uninterrupted(tmp_path):
    from featherface.data.synthetic import make_synthetic_dataset

    labels = make_synthetic_dataset(tmp_path / "data", 10, img_size=96, seed=3, min_face=12, max_face=48, max_faces=3)
    deadline = time.monotonic() + 170
    ref_out, out = tmp_path / "reference", tmp_path / "killed"
    ref = subprocess.Popen(train_command(labels, ref_out, EPOCHS), cwd=REPO, env=single_thread_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rng = random.Random(1234)
    watcher = CheckpointWatcher(out, tmp_path / "snaps")
    cmd = train_command(labels, out, EPOCHS)
    log: list[str] = []
    kills = mid_write = 0
    steps_seen: list[int] = []
    for mode in ("startup", "in-write", "SIGTERM", "random", "in-write", "SIGINT"):
        r = interrupt_training(cmd, watcher, mode, rng, deadline, cwd=REPO)
        if (out / "last.pt").exists():
            steps_seen.append(int(read_checkpoint(out / "last.pt")["global_step"]))  # what the kill left loads
        log.append(f"{mode}: {r.what}, exit {r.returncode}, checkpointed step "
                   f"{steps_seen[-1] if steps_seen else None} ({r.seconds:.1f}s)")
        assert r.what != "TIMEOUT", log
        if r.what == "finished":
            break  # the run completed before this round's interruption point
        if r.what.startswith("SIGKILL"):
            kills += 1
            mid_write += r.tmp_left
            assert r.returncode == -signal.SIGKILL, log
        else:  # SIGINT / SIGTERM: finish the step, save, exit 130, say how to resume
            assert r.returncode == 130, f"{log}\n{r.stderr_tail}"
            assert f"stopped by {r.what}" in r.stderr_tail and "--resume" in r.stderr_tail, r.stderr_tail
    r = interrupt_training(cmd, watcher, "finish", rng, deadline, cwd=REPO)
    assert r.returncode == 0 and r.what == "finished", f"{log}\n{r.stderr_tail}"
    assert kills >= 4 and mid_write >= 1, log  # mid_write: the kill really landed inside a write
    assert steps_seen == sorted(steps_seen), f"checkpointed step went backwards: {log}"

    # every last.pt that ever existed loads (as a checkpoint and as a weights file)
    snaps = watcher.snapshots()
    assert len(snaps) >= TOTAL_STEPS // 2, log
    for s in snaps:
        assert 0 <= int(read_checkpoint(s)["global_step"]) <= TOTAL_STEPS
        read_weights(s)

    # bit-identical to the uninterrupted run
    ref_err = ref.communicate(timeout=max(10.0, deadline - time.monotonic()))[1]
    assert ref.returncode == 0, ref_err[-2000:]
    a, b = read_checkpoint(ref_out / "last.pt"), read_checkpoint(out / "last.pt")
    assert int(a["global_step"]) == int(b["global_step"]) == TOTAL_STEPS
    assert not _differ(a["model"], b["model"]), log
    assert not _differ(a["ema"]["state_dict"], b["ema"]["state_dict"]), log
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    assert not _differ(read_weights(ref_out / "final.pt")["state_dict"], read_weights(out / "final.pt")["state_dict"])
    print("\n".join(log), f"\n{len(snaps)} checkpoints seen, all loadable; {mid_write} kills inside a write")
