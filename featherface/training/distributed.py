"""Distributed-data-parallel setup from ``torchrun``'s environment (no home-made launcher).

``torchrun --nproc_per_node G ... -m featherface.cli train ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` (and the rendezvous variables); we join the process group with NCCL on CUDA and
Gloo on CPU. Without those variables the run is a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from featherface.device import resolve_device as check_device
from featherface.errors import ConfigError

__all__ = ["DistInfo", "setup_distributed", "cleanup_distributed", "resolve_device", "all_reduce_mean", "all_reduce_mean_grads",
           "replicas_in_sync"]


@dataclass
class DistInfo:
    """Where this process sits in the job. ``owns_group``: we created the process group (and destroy it)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """:func:`featherface.device.resolve_device` (the one check of a device string), with ``auto`` and a
    bare ``cuda`` placed on this process's GPU (``cuda:LOCAL_RANK``) under torchrun."""
    dev = check_device((spec or "auto").strip().lower())
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


def setup_distributed(device: str = "auto") -> DistInfo:
    """Read torchrun's environment, pick the device and join the process group when needed."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    info = DistInfo(rank, world, local_rank, dev, owns_group=False)
    if world > 1 and not (dist.is_available() and dist.is_initialized()):
        if not dist.is_available():
            raise ConfigError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            dist.init_process_group(backend=backend, device_id=dev)
        else:
            dist.init_process_group(backend=backend)
        info.owns_group = True
    if dist.is_available() and dist.is_initialized():
        info.rank = dist.get_rank()
        info.world_size = dist.get_world_size()
    return info


def cleanup_distributed(info: DistInfo) -> None:
    if info.owns_group and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_mean(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Average a tensor over ranks (in place); identity in a single process."""
    if info.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= info.world_size
    return t


def all_reduce_mean_grads(params: list[nn.Parameter], info: DistInfo) -> None:
    """Average the gradients of parameters that live outside DistributedDataParallel over ranks."""
    for p in params:
        if p.grad is not None:
            all_reduce_mean(p.grad, info)


def replicas_in_sync(model: nn.Module, info: DistInfo) -> bool:
    """DDP sanity check: every rank holds the same weights (a cheap fingerprint per rank, gathered)."""
    with torch.no_grad():
        fp = torch.stack([torch.stack([p.double().sum(), p.double().abs().sum()])
                          for p in model.parameters()]).sum(0).to(info.device)
    gathered = [torch.zeros_like(fp) for _ in range(info.world_size)]
    dist.all_gather(gathered, fp)
    return all(torch.equal(g, gathered[0]) for g in gathered)
