"""Training on several processes: ``spikestep train --nproc N`` here, or under ``torchrun`` anywhere.

Each process (a *rank*) takes its contiguous share of every global batch, the same global batches one
process would use: every rank draws the same permutation (and Poisson spikes) from the run's seeded
generator, encodes the whole batch and keeps its part. The loss is weighted so that
``DistributedDataParallel``'s averaged gradient is the gradient of the mean over the global batch, even
when the last batch does not split evenly. spikestep's own ``BatchNorm1d``/``BatchNorm2d`` become
:class:`GlobalBatchNorm1d`/:class:`GlobalBatchNorm2d`, which normalise with the statistics of the whole
global batch (``SyncBatchNorm``, which runs on GPUs only, in plain PyTorch), so N processes train the
network one process would, up to the order of floating-point sums. Each rank other than the first draws
its dropout masks from its own random stream. Ranks other than 0 print nothing; rank 0 writes the files.

The command trains on the CPU, so the processes talk through gloo. ``--nproc N`` starts N local workers
(``torch.multiprocessing``, spawn) that find each other the way ``torchrun``'s workers do: through the
``MASTER_ADDR``/``MASTER_PORT``/``RANK``/``WORLD_SIZE`` environment variables, so the same code runs under
``torchrun --nnodes ... -m spikestep train ...`` on several machines.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn

from .. import layer
from ..data._optional import MissingExtraError
from ._common import CLIError

BACKEND = "gloo"  # the command's tensors live on the CPU; nccl would need CUDA tensors
_SPAWNED = "SPIKESTEP_SPAWNED_WORKER"  # set in the workers --nproc starts (not torchrun's)


@dataclass(frozen=True)
class World:
    """This process's place among the training processes; ``World()`` is a process training alone, for
    which every method hands its input back unchanged (the single-process path, exactly)."""

    rank: int = 0
    size: int = 1

    @property
    def writes(self) -> bool:
        """Whether this process prints and writes files (rank 0)."""
        return self.rank == 0

    def describe(self) -> str:
        """``''`` alone, else ``', N processes (gloo)'`` for the first printed line."""
        return "" if self.size == 1 else f", {self.size} processes ({BACKEND})"

    def wrap(self, model: nn.Module, find_unused_parameters: bool = False) -> nn.Module:
        """The module to train: ``model`` alone; else ``model`` with global batch norms, in DDP.

        Call it before building the optimiser. ``model`` itself stays the network to score, save and plot.
        ``find_unused_parameters``: some parameters stop learning during training (learned delays are
        frozen at 80%), so DDP must not wait for their gradients.
        """
        if self.size == 1:
            return model
        to_global_batch_norm(model)
        return nn.parallel.DistributedDataParallel(model, find_unused_parameters=find_unused_parameters)

    def check_batches(self, n_train: int, batch_size: int) -> None:
        """Refuse (:class:`CLIError`) a split that would leave a rank an empty share of some batch."""
        smallest = n_train % batch_size or batch_size  # the last batch, or all of them
        if smallest < self.size:
            raise CLIError(
                f"--nproc {self.size}: the smallest batch of an epoch ({n_train} samples in batches of "
                f"{batch_size}) holds {smallest} sample(s), fewer than one per process: lower --nproc to "
                f"{smallest} or pick another --batch-size"
            )

    def shard(self, x_seq: torch.Tensor, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's contiguous part of a global batch: ``x_seq`` ``[T, B, ...]`` and its indices ``[B]``."""
        if self.size == 1:
            return x_seq, batch
        n = len(batch)
        lo, hi = self.rank * n // self.size, (self.rank + 1) * n // self.size
        return x_seq[:, lo:hi], batch[lo:hi]

    def scaled(self, loss: torch.Tensor, part: int, whole: int) -> torch.Tensor:
        """The loss to back-propagate: this rank's mean over ``part`` samples, weighted so that DDP's mean
        of the ranks' gradients is the gradient of the mean over the ``whole`` global batch."""
        if self.size == 1:
            return loss
        return loss * (self.size * part / whole)

    def total(self, *values: float) -> tuple[float, ...]:
        """Each value summed over the ranks (float64)."""
        if self.size == 1:
            return values
        summed = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(summed)
        return tuple(summed.tolist())

    def seed_ranks(self, seed: int, checkpoint: dict[str, Any] | None) -> None:
        """Give every rank but 0 its own torch random stream (dropout masks): the one saved in a checkpoint
        of a run on as many processes, else one derived from ``seed``, the rank and the epochs done."""
        if self.rank == 0:
            return
        saved = checkpoint["rng"].get("torch_ranks") if checkpoint is not None else None
        if saved is not None and len(saved) == self.size:
            torch.set_rng_state(saved[self.rank])
            return
        done = int(checkpoint["epoch"]) if checkpoint is not None else 0
        digest = hashlib.sha256(f"spikestep train/{seed}/{self.rank}/{done}".encode()).digest()
        torch.manual_seed(int.from_bytes(digest[:8], "little") >> 1)

    def with_rank_rngs(self, state: dict[str, Any]) -> dict[str, Any]:
        """``state`` (a checkpoint) with every rank's torch random state added as ``rng['torch_ranks']``, for
        an exact ``--resume`` on as many processes. Every rank must call it (it gathers)."""
        if self.size == 1:
            return state
        states: list[Any] = [None] * self.size
        dist.all_gather_object(states, torch.get_rng_state())
        return {**state, "rng": {**state["rng"], "torch_ranks": states}}


class _SumOverRanks(torch.autograd.Function):
    """``x`` summed over the ranks; the gradient of each rank's input is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        total = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return _SumOverRanks.apply(grad)


def _global_batch_norm(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Batch norm of ``x`` ``[N, C, ...]`` (training) with the mean and variance over every rank's ``x``;
    gradients flow back through the sums to every rank. Updates the running statistics as torch does."""
    dims = [0, *range(2, x.dim())]
    shape = [1, -1] + [1] * (x.dim() - 2)
    count = torch.tensor([x.numel() // x.shape[1]], dtype=x.dtype)
    sums = _SumOverRanks.apply(torch.cat([x.sum(dims), count]))
    n = int(sums[-1].item())
    if n < 2:
        raise ValueError(
            f"{type(bn).__name__}: expected more than 1 value per channel when training, got {n}"
        )
    mean = sums[:-1] / n
    centred = x - mean.view(shape)
    var = _SumOverRanks.apply((centred * centred).sum(dims)) / n
    y = centred * torch.rsqrt(var + bn.eps).view(shape)
    if bn.affine:
        y = y * bn.weight.view(shape) + bn.bias.view(shape)
    if bn.track_running_stats:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            momentum = bn.momentum if bn.momentum is not None else 1.0 / bn.num_batches_tracked.item()
            bn.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
            bn.running_var.mul_(1 - momentum).add_(var * (n / (n - 1)), alpha=momentum)
    return y


class _GlobalStatistics:
    """Mixin before a spikestep batch norm: in training, with several ranks, the global batch's statistics."""

    def _global(self) -> bool:
        return bool(self.training) and dist.is_initialized() and dist.get_world_size() > 1  # type: ignore[attr-defined]

    def _layer_forward(self, x: torch.Tensor) -> torch.Tensor:  # multi-step mode, time folded into batch
        if self._global():
            return _global_batch_norm(self, x)  # type: ignore[arg-type]
        return super()._layer_forward(x)  # type: ignore[misc]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s" and self._global():  # type: ignore[attr-defined]
            x = self._floating(x)  # type: ignore[attr-defined]
            self._check_step(x, x.shape)  # type: ignore[attr-defined]
            return _global_batch_norm(self, x)  # type: ignore[arg-type]
        return super().forward(x)  # type: ignore[misc]


class GlobalBatchNorm1d(_GlobalStatistics, layer.BatchNorm1d):
    """:class:`spikestep.layer.BatchNorm1d` whose training statistics span every rank's share of the batch."""


class GlobalBatchNorm2d(_GlobalStatistics, layer.BatchNorm2d):
    """:class:`spikestep.layer.BatchNorm2d` whose training statistics span every rank's share of the batch."""


_GLOBAL = {layer.BatchNorm1d: GlobalBatchNorm1d, layer.BatchNorm2d: GlobalBatchNorm2d}


def to_global_batch_norm(model: nn.Module) -> nn.Module:
    """Replace, in place, each spikestep ``BatchNorm1d``/``BatchNorm2d`` inside ``model`` (not ``model``
    itself, nor subclasses) by its global version, sharing its parameters and buffers; returns ``model``."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            kind = _GLOBAL.get(type(child))  # type: ignore[call-overload]
            if kind is None:
                continue
            new = kind(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats,
                       step_mode=child.step_mode)  # fmt: skip
            for key, value in [*child.named_parameters(recurse=False), *child.named_buffers(recurse=False)]:
                setattr(new, key, value)
            new.train(child.training)
            setattr(parent, name, new)
    return model


def launches_workers(nproc: int) -> bool:
    """Whether this process should start ``nproc`` workers: ``--nproc`` > 1 in a process that is not one
    of them. Under torchrun (``WORLD_SIZE`` > 1 set by another launcher) ``--nproc`` > 1 is a
    :class:`CLIError`."""
    if _SPAWNED in os.environ:
        return False
    if nproc > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise CLIError(
            f"--nproc {nproc}: this process is already one of {os.environ['WORLD_SIZE']} started by "
            f"torchrun (WORLD_SIZE is set); leave --nproc out and set the processes with torchrun's "
            f"--nproc-per-node"
        )
    return nproc > 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _worker(rank: int, fn: Callable[[Any], int], payload: Any, nproc: int, port: int, errors: Any) -> None:
    os.environ.update(
        {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "LOCAL_RANK": str(rank),
         "WORLD_SIZE": str(nproc), "LOCAL_WORLD_SIZE": str(nproc), _SPAWNED: "1"}
    )  # fmt: skip
    try:
        fn(payload)
    except CLIError as exc:  # every rank meets the same one: rank 0 hands it to the parent to print once
        if rank == 0:
            errors.put((exc.exit_code, str(exc)))
    except MissingExtraError as exc:  # main prints these as it prints a CLIError, and exits 1
        if rank == 0:
            errors.put((1, str(exc)))


def spawn(fn: Callable[[Any], int], payload: Any, nproc: int) -> int:
    """Run ``fn(payload)`` in ``nproc`` new local processes that :func:`joined` makes ranks 0..nproc-1;
    return 0 when they all end, raise a :class:`CLIError` (or missing extra) that they met, once."""
    context = torch.multiprocessing.get_context("spawn")
    errors = context.SimpleQueue()
    torch.multiprocessing.start_processes(
        _worker, args=(fn, payload, nproc, _free_port(), errors), nprocs=nproc, start_method="spawn"
    )
    if not errors.empty():
        code, message = errors.get()
        raise CLIError(message, code)
    return 0


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def joined() -> Iterator[World]:
    """This process's :class:`World`: ``World()`` alone; under ``torchrun`` or :func:`spawn`, its rank in a
    gloo process group built from the environment (torch threads: this machine's cores shared among its
    processes unless ``OMP_NUM_THREADS`` says; stdout silenced on ranks other than 0). The group is
    destroyed on leaving."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        yield World()
        return
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, _cores() // int(os.environ.get("LOCAL_WORLD_SIZE", size))))
    dist.init_process_group(BACKEND)
    world = World(dist.get_rank(), dist.get_world_size())
    try:
        with contextlib.ExitStack() as stack:
            if not world.writes:
                stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
            yield world
    finally:
        dist.destroy_process_group()
