"""``spikestep train``: train a spiking classifier on an offline data set and save what it learned.

Two data sets: ``digits`` (scikit-learn's 8x8 digits, as constant current or Poisson spikes, a small
convolutional SNN with a voting population) and ``mnist1d`` (MNIST-1D, one value per time step, a
:class:`~spikestep.models.DelayNet` whose memory over time comes from delay lines). Everything runs in
multi-step mode. Writes ``checkpoint.pt`` (after every epoch, with the optimiser, the learning-rate schedule
and the random generators: ``--resume`` continues a stopped run exactly) and three PNG figures into ``--out``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .. import __version__, encoding, functional
from ..data import DATASETS, DataSplit
from ..models import READOUTS, DelayNet, DigitsNet, LearnedDelayBank
from ..neuron import BaseNode
from . import _distributed, _train_plots
from ._common import (
    CLIError,
    positive_float,
    positive_int,
    probability,
    progress,
    pyplot,
    seed,
    time_constant,
    writable_dir,
)

# Scores are rates in [0, 1]; cross-entropy needs a wider range of logits to become confident.
LOGIT_SCALE = 10.0
EVAL_BATCH = 500
# Options that are the same for every data set (those left out of a data set's defaults).
COMMON_DEFAULTS: dict[str, Any] = {
    "dataset": "digits",
    "seed": 0,
    "readout": "voting",
    "readout_tau": 10.0,
}
# What defines a run (its network, its data and how it learns): a resumed run takes them from its
# checkpoint, and an option given with --resume must agree. --epochs may grow; --out and --no-progress are free.
RUN_SETTINGS = (
    "dataset", "seed", "batch_size", "lr", "T", "encoding", "hidden", "taps", "delays", "dropout", "voting_size",
    "readout", "readout_tau", "tau",
)  # fmt: skip
CHECKPOINT = "checkpoint.pt"
# Neurons per block of the MNIST-1D network with learned delays: 47,418 parameters (delays included),
# fewer than the fixed-delay network's 48,164 at 64.
LEARNED_DELAYS_HIDDEN = 63
# What a checkpoint needs to be resumed (checkpoints written before --resume existed lack the last four).
RESUME_KEYS = ("args", "state_dict", "history", "epoch", "optimizer", "scheduler", "rng")


@dataclass(frozen=True)
class _Task:
    """How to train on one data set: its defaults, its network and how a batch becomes a sequence."""

    defaults: dict[str, Any]
    build: Callable[[argparse.Namespace, DataSplit], nn.Module]
    to_sequence: Callable[[torch.Tensor, argparse.Namespace, torch.Generator], torch.Tensor]


def _digits_model(args: argparse.Namespace, data: DataSplit) -> nn.Module:
    return DigitsNet(
        channels=args.hidden,
        voting_size=args.voting_size,
        num_classes=data.num_classes,
        dropout=args.dropout,
        readout=args.readout,
        tau=args.tau,
        readout_tau=args.readout_tau,
    )


def _digits_sequence(x: torch.Tensor, args: argparse.Namespace, generator: torch.Generator) -> torch.Tensor:
    # [B, 64] -> [T, B, 64]: the same image at each step, as a current or as Poisson spikes.
    if args.encoding == "poisson":
        return encoding.poisson(x, args.T, generator)
    return x.unsqueeze(0).expand(args.T, *x.shape)


def _mnist1d_model(args: argparse.Namespace, data: DataSplit) -> nn.Module:
    return DelayNet(
        hidden=args.hidden,
        taps=args.taps,
        voting_size=args.voting_size,
        num_classes=data.num_classes,
        dropout=args.dropout,
        readout=args.readout,
        tau=args.tau,
        readout_tau=args.readout_tau,
        delays=args.delays,
    )


def _mnist1d_sequence(x: torch.Tensor, args: argparse.Namespace, generator: torch.Generator) -> torch.Tensor:
    # [B, 40] -> [40, B, 1]: one value of the signal per time step.
    return x.t().unsqueeze(-1).contiguous()


TASKS: dict[str, _Task] = {
    "digits": _Task(
        defaults={
            "epochs": 30,
            "batch_size": 64,
            "lr": 3e-3,
            "T": 8,
            "encoding": "constant",
            "hidden": 32,
            "dropout": 0.3,
            "voting_size": 10,
            "taps": None,
            "delays": None,
            "tau": 2.0,
        },
        build=_digits_model,
        to_sequence=_digits_sequence,
    ),
    "mnist1d": _Task(
        defaults={
            "epochs": 30,
            "batch_size": 128,
            "lr": 3e-3,
            "T": 40,
            "encoding": "value",
            "hidden": 64,
            "dropout": 0.2,
            "voting_size": 10,
            "taps": 5,
            "delays": "fixed",
            "tau": 1.5,
        },
        build=_mnist1d_model,
        to_sequence=_mnist1d_sequence,
    ),
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to ``subparsers``."""
    p = subparsers.add_parser(
        "train",
        help="train a spiking classifier on digits or MNIST-1D",
        description="Train a spiking classifier (multi-step mode) on a data set made offline, score it on a "
        "held-out test split after each epoch, and save checkpoint.pt and PNG figures (accuracy curve, a "
        "test sample's output spike raster, firing rate per layer) into --out. Options left out take the "
        "data set's defaults (shown in brackets: digits / mnist1d).",
        epilog="examples:\n"
        "  spikestep train                              # digits: ~98.6% test, ~15 s on 2 cores\n"
        "  spikestep train --encoding poisson           # the images as Poisson spike trains\n"
        "  spikestep train --dataset mnist1d            # MNIST-1D through delay lines: ~96%, ~50 s\n"
        "  spikestep train --dataset mnist1d --taps 1   # the same network without delays: ~39%\n"
        "  spikestep train --resume runs/digits         # continue an interrupted run where it stopped\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--dataset", choices=sorted(TASKS), default=None, help="data set to train on (default digits)"
    )
    p.add_argument("--out", default=None, help="output folder [runs/<dataset>; with --resume, DIR]")
    p.add_argument(
        "--seed", type=seed, default=None, help="random seed, >= 0: same seed, same result (default 0)"
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="continue the run whose DIR/checkpoint.pt (written after every epoch) says where it stopped: "
        "the model, optimiser, learning-rate schedule and random generators come back, so the run ends as "
        "if never interrupted. Its settings come from the checkpoint (options given must agree); --epochs "
        "beyond the run's own re-plans the learning-rate schedule for the new total",
    )

    def default_help(text: str, key: str) -> str:
        return f"{text} [{TASKS['digits'].defaults[key]} / {TASKS['mnist1d'].defaults[key]}]"

    p.add_argument("--epochs", type=positive_int, default=None, help=default_help("epochs, >= 1", "epochs"))
    p.add_argument(
        "--batch-size", type=positive_int, default=None, help=default_help("batch size", "batch_size")
    )
    p.add_argument(
        "--lr", type=positive_float, default=None, help=default_help("Adam learning rate, finite > 0", "lr")
    )
    p.add_argument(
        "--T",
        type=positive_int,
        default=None,
        help="time steps per image (digits only) [8 / the sequence, 40]",
    )
    p.add_argument(
        "--encoding",
        choices=("constant", "poisson"),
        default=None,
        help="digits only: the image as a constant input current or as Poisson spikes [constant]",
    )
    p.add_argument(
        "--hidden",
        type=positive_int,
        default=None,
        help=default_help("conv channels (digits) / neurons per hidden block (mnist1d)", "hidden"),
    )
    p.add_argument(
        "--taps",
        type=positive_int,
        default=None,
        help="mnist1d only: delayed copies per delay bank, 1 = no delays (the feed-forward baseline) [5]",
    )
    p.add_argument(
        "--delays",
        choices=("fixed", "learned"),
        default=None,
        help="mnist1d only: 'fixed' = the delay banks' taps 0, r, 2r, ... (default); 'learned' = every "
        "channel's taps learned (LearnedDelayBank: the kernel narrows over the first quarter, the delays are "
        "rounded and frozen at 80%%), with 63 neurons per block unless --hidden says otherwise, so that the "
        "network has fewer parameters than the fixed one",
    )
    p.add_argument(
        "--dropout",
        type=probability,
        default=None,
        help=default_help("dropout before the output, in [0, 1)", "dropout"),
    )
    p.add_argument(
        "--voting-size",
        type=positive_int,
        default=None,
        help=default_help("output neurons per class", "voting_size"),
    )
    p.add_argument(
        "--readout",
        choices=READOUTS,
        default=None,
        help="class scores: 'voting' = firing rate of each class's population (VotingLayer); 'synapse' = "
        "the populations' spikes filtered by a SynapseFilter, read at the last step (default voting)",
    )
    p.add_argument(
        "--readout-tau",
        type=time_constant,
        default=None,
        help="time constant of the synapse readout, in steps, > 1 (default 10)",
    )
    p.add_argument(
        "--tau",
        type=time_constant,
        default=None,
        help=default_help("LIF membrane time constant, in steps, > 1", "tau"),
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar, one line per epoch")
    p.add_argument(
        "--nproc",
        type=positive_int,
        default=1,
        metavar="N",
        help="processes on this machine, >= 1: each trains on its share of every batch (torch.distributed, "
        "gloo) and together they end where one process would (with --dropout 0: each process draws its own "
        "dropout masks); under torchrun leave it out (default 1)",
    )
    p.set_defaults(run=run)
    return p


def _resolve(args: argparse.Namespace) -> tuple[argparse.Namespace, dict[str, Any] | None]:
    """Fill the options left out (from the checkpoint with ``--resume``, else the defaults); reject options
    the data set has no use for. Returns the settings and the checkpoint to resume from (or None)."""
    checkpoint = _load_checkpoint(Path(args.resume)) if args.resume is not None else None
    saved = checkpoint["args"] if checkpoint is not None else {}
    dataset = saved.get("dataset") if args.dataset is None else args.dataset
    dataset = dataset or COMMON_DEFAULTS["dataset"]
    if dataset == "mnist1d":
        for name in ("T", "encoding"):
            if getattr(args, name) is not None:
                raise CLIError(
                    f"--{name} applies to --dataset digits only (MNIST-1D feeds one value per step)"
                )
    if dataset == "digits" and args.taps is not None:
        raise CLIError("--taps applies to --dataset mnist1d only (the digits network has no delay banks)")
    if dataset == "digits" and args.delays is not None:
        raise CLIError("--delays applies to --dataset mnist1d only (the digits network has no delay banks)")
    resolved = argparse.Namespace(**vars(args))
    if checkpoint is not None:
        conflicts = [
            f"--{key.replace('_', '-')} {getattr(args, key)} (the run has {saved.get(key)})"
            for key in RUN_SETTINGS
            if getattr(args, key) is not None
            and getattr(args, key) != saved.get(key, TASKS[dataset].defaults.get(key))
        ]
        if conflicts:
            raise CLIError(
                f"--resume {args.resume}: the checkpoint belongs to another run: {'; '.join(conflicts)}. "
                f"Leave these options out to continue that run, or train a new one into another --out"
            )
        for key in RUN_SETTINGS:  # a checkpoint from before a setting existed ran with its default
            setattr(resolved, key, saved.get(key, TASKS[dataset].defaults.get(key)))
        if resolved.epochs is None:
            resolved.epochs = saved["epochs"]
        if resolved.out is None:
            resolved.out = args.resume
    if dataset == "mnist1d" and resolved.delays == "learned" and resolved.hidden is None:
        resolved.hidden = LEARNED_DELAYS_HIDDEN
    for key, value in {**COMMON_DEFAULTS, **TASKS[dataset].defaults}.items():
        if getattr(resolved, key, None) is None:
            setattr(resolved, key, value)
    if resolved.out is None:
        resolved.out = str(Path("runs") / dataset)
    return resolved, checkpoint


def _load_checkpoint(folder: Path) -> dict[str, Any]:
    """``folder/checkpoint.pt``, checked to hold what resuming needs; :class:`CLIError` if it does not."""
    path = folder / CHECKPOINT
    if not path.is_file():
        raise CLIError(
            f"--resume {folder}: there is no {CHECKPOINT} in it (spikestep train writes one into --out "
            f"after every epoch)"
        )
    try:
        checkpoint = torch.load(path, weights_only=True)
    except Exception as exc:  # truncated, not a checkpoint, not a torch file: say so without a traceback
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CLIError(f"--resume {folder}: cannot read {path} as a checkpoint: {reason}") from None
    missing = [k for k in RESUME_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise CLIError(
            f"--resume {folder}: {path} is not a checkpoint that can be resumed (it lacks "
            f"{', '.join(missing)}: written before spikestep train saved its training state), so it "
            f"cannot go on exactly; train anew"
        )
    saved = checkpoint["args"]
    if not isinstance(saved, dict) or saved.get("dataset") not in TASKS:
        raise CLIError(f"--resume {folder}: {path} names no data set spikestep train knows ({sorted(TASKS)})")
    return checkpoint


def _restore(
    checkpoint: dict[str, Any],
    args: argparse.Namespace,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.CosineAnnealingLR,
    generator: torch.Generator,
) -> int:
    """Put the checkpoint's training state back; return the epochs it has done."""
    done = int(checkpoint["epoch"])
    if args.epochs < done:
        raise CLIError(
            f"--epochs {args.epochs}: the run in {args.resume} has trained {done} epochs already; ask for "
            f"{done} or more"
        )
    try:
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        torch.set_rng_state(checkpoint["rng"]["torch"])
        generator.set_state(checkpoint["rng"]["generator"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CLIError(
            f"--resume {args.resume}: the checkpoint's model does not fit the {type(model).__name__} its "
            f"settings build (another architecture, or another spikestep version): {reason}"
        ) from None
    planned = checkpoint["args"]["epochs"]
    print(f"resuming {Path(args.resume) / CHECKPOINT} after epoch {done} of {planned}", flush=True)
    if args.epochs != planned:
        # The cosine schedule was planned for the run's own total: re-plan it for the new one, from here on
        # the learning rate an uninterrupted run of args.epochs would have.
        scheduler.T_max = args.epochs
        cosine = (1 + math.cos(math.pi * done / args.epochs)) / 2
        for group in optimizer.param_groups:
            group["lr"] = scheduler.eta_min + (group["initial_lr"] - scheduler.eta_min) * cosine
        print(
            f"note: the run was planned for {planned} epochs; its learning-rate schedule now runs to "
            f"{args.epochs} (the result differs from a run planned for {args.epochs} from the start)",
            flush=True,
        )
    return done


def _training_state(
    model: nn.Module,
    args: argparse.Namespace,
    history: dict[str, list[float]],
    epoch: int,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    test_acc: float,
) -> dict[str, Any]:
    """What ``checkpoint.pt`` holds: the model and what a resumed run needs to go on exactly."""
    return {
        "model": type(model).__name__,
        "state_dict": model.state_dict(),
        "args": {k: v for k, v in vars(args).items() if k not in ("run", "resume")},
        "history": history,
        "epoch": epoch,
        "test_accuracy": test_acc,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"torch": torch.get_rng_state(), "generator": generator.get_state()},
        "spikestep_version": __version__,
    }


def _save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Write ``checkpoint`` to ``path`` whole or not at all (an interrupted write leaves the last one)."""
    partial = path.with_name(path.name + ".partial")
    torch.save(checkpoint, partial)
    os.replace(partial, path)


def _evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace, task: _Task, seed: int
) -> tuple[float, torch.Tensor]:
    """Test accuracy and the class scores ``[N, C]``; Poisson spikes drawn from their own seeded generator."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    scores = []
    with torch.no_grad():
        for i in range(0, len(y), EVAL_BATCH):
            scores.append(model(task.to_sequence(x[i : i + EVAL_BATCH], args, generator)))
            functional.reset_net(model)
    all_scores = torch.cat(scores)
    return (all_scores.argmax(1) == y).float().mean().item(), all_scores


def _record_spikes(model: nn.Module, x_seq: torch.Tensor) -> tuple[list[tuple[str, float]], torch.Tensor]:
    """Run ``x_seq`` once; return the mean firing rate of each spiking layer and the last layer's spikes."""
    nodes = [(name, m) for name, m in model.named_modules() if isinstance(m, BaseNode)]
    outputs: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out.detach()))
        for name, m in nodes
    ]
    model.eval()
    try:
        with torch.no_grad():
            model(x_seq)
    finally:
        for h in hooks:
            h.remove()
        functional.reset_net(model)
    rates = []
    for i, (name, _) in enumerate(nodes):
        spikes = outputs[name]
        kind = "output" if i == len(nodes) - 1 else f"hidden {i + 1}"
        rates.append((f"{kind}\n{spikes[0, 0].numel()} LIF", spikes.mean().item()))
    return rates, outputs[nodes[-1][0]]


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` says; print one line per epoch and the files written. Returns 0.

    With ``--nproc N`` > 1, start N processes that each run this as one rank (see ``_distributed``).
    """
    if _distributed.launches_workers(args.nproc):
        return _distributed.spawn(run, args, args.nproc)
    with _distributed.joined() as world:
        return _train(args, world)


def _learned_delays(
    plt: Any, out: Path, model: nn.Module, data: DataSplit, args: argparse.Namespace, task: _Task
) -> list[Path]:
    """With learned delays: score the integer-delay (streaming) form of the network, its delays rounded
    (the trained network itself once they were rounded and frozen at 80% of training), and draw the
    delays each bank learned. Returns the figure written (none for fixed delays)."""
    banks = [
        (f"block {i // 4 + 1}", m)
        for i, m in enumerate(getattr(model, "features", []))
        if isinstance(m, LearnedDelayBank)
    ]
    if not banks:
        return []
    rounded_acc, _ = _evaluate(model.to_fixed(), data.x_test, data.y_test, args, task, args.seed + 1)
    print(f"integer-delay form (per-channel Delay layers, streams exactly): test accuracy {rounded_acc:.2%}")
    path = out / "delays.png"
    listed = [(name, bank.delays.delay.detach(), bank.delays.max_delay) for name, bank in banks]
    _train_plots.delay_distribution(plt, path, listed)
    return [path]


def _train(args: argparse.Namespace, world: _distributed.World) -> int:
    """``run`` in this process, as ``world``'s rank: rank 0 prints and writes the files."""
    args, checkpoint = _resolve(args)
    task = TASKS[args.dataset]
    out = writable_dir(args.out)
    plt = pyplot("spikestep train's figures")  # fail now, not after training, when matplotlib is missing
    started = time.perf_counter()
    torch.manual_seed(args.seed)
    data = DATASETS[args.dataset]()
    # The training clock starts once the data are made (MNIST-1D's generator takes seconds of its own);
    # both times are printed.
    data_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model = task.build(args, data)
    net = world.wrap(
        model, find_unused_parameters=args.delays == "learned"
    )  # what trains: ``model`` itself alone, else in DDP with global batch norms
    generator = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "test_acc": [], "seconds": []}
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"spikestep train: {data!r}; {type(model).__name__} ({n_params:,} parameters), T={args.T}, "
        f"readout={args.readout}, seed={args.seed}{world.describe()}",
        flush=True,
    )
    done = 0
    if checkpoint is not None:
        done = _restore(checkpoint, args, model, optimizer, scheduler, generator)
        history = checkpoint["history"]
        started -= history["seconds"][-1] if history["seconds"] else 0.0
    world.seed_ranks(args.seed, checkpoint)

    checkpoint_path = out / CHECKPOINT
    n_train = len(data.y_train)
    n_batches = math.ceil(n_train / args.batch_size)
    world.check_batches(n_train, args.batch_size)
    try:
        for epoch in range(done + 1, args.epochs + 1):
            model.train()
            if hasattr(model, "set_training_progress"):  # learned delays: their width, then rounding
                model.set_training_progress((epoch - 1) / args.epochs)
            order = torch.randperm(n_train, generator=generator)
            loss_sum = correct = seen = 0.0
            bar = progress(range(n_batches), n_batches, f"epoch {epoch}/{args.epochs}", not args.no_progress)
            for b in bar:
                batch = order[b * args.batch_size : (b + 1) * args.batch_size]
                x_seq, ix = world.shard(task.to_sequence(data.x_train[batch], args, generator), batch)
                scores = net(x_seq)
                loss = nn.functional.cross_entropy(scores * LOGIT_SCALE, data.y_train[ix])
                optimizer.zero_grad()
                world.scaled(loss, len(ix), len(batch)).backward()
                optimizer.step()
                if hasattr(model, "clamp_delays"):  # learned delays stay in [0, max_delay]
                    model.clamp_delays()
                functional.reset_net(model)
                loss_sum += loss.item() * len(ix)
                correct += (scores.argmax(1) == data.y_train[ix]).sum().item()
                seen += len(ix)
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.1%}")
            loss_sum, correct, seen = world.total(loss_sum, correct, seen)
            scheduler.step()
            test_acc, _ = _evaluate(model, data.x_test, data.y_test, args, task, args.seed + 1)
            history["train_loss"].append(loss_sum / seen)
            history["train_acc"].append(correct / seen)
            history["test_acc"].append(test_acc)
            history["seconds"].append(time.perf_counter() - started)
            state = _training_state(model, args, history, epoch, optimizer, scheduler, generator, test_acc)
            state = world.with_rank_rngs(state)
            if world.writes:
                _save_checkpoint(checkpoint_path, state)
            print(
                f"epoch {epoch:3d}/{args.epochs}  loss {loss_sum / seen:.4f}  train {correct / seen:6.2%}  "
                f"test {test_acc:6.2%}  ({history['seconds'][-1]:.1f} s)",
                flush=True,
            )
    except KeyboardInterrupt:
        saved = len(history["test_acc"])
        where = out if saved > done else Path(args.resume) if checkpoint is not None else None
        if where is not None and world.writes:
            print(
                f"\nstopped; {where / CHECKPOINT} holds the run after epoch {saved} of {args.epochs}: "
                f"'spikestep train --resume {where}' continues it",
                file=sys.stderr,
            )
        raise

    test_acc, scores = _evaluate(model, data.x_test, data.y_test, args, task, args.seed + 1)
    state = _training_state(model, args, history, args.epochs, optimizer, scheduler, generator, test_acc)
    state = world.with_rank_rngs(state)
    if not world.writes:
        return 0
    sample = task.to_sequence(data.x_test[:EVAL_BATCH], args, torch.Generator().manual_seed(args.seed + 1))
    rates, out_spikes = _record_spikes(model, sample)
    _save_checkpoint(checkpoint_path, {**state, "firing_rates": dict(rates)})
    figures = _train_plots.save_all(
        plt,
        out,
        dataset=args.dataset,
        history=history,
        rates=rates,
        x=data.x_test[0],
        spikes=out_spikes[:, 0],
        voting_size=args.voting_size,
        label=int(data.y_test[0]),
        scores=scores[0],
        readout=args.readout,
    )
    figures += _learned_delays(plt, out, model, data, args, task)
    trained = history["seconds"][-1] if history["seconds"] else 0.0
    print(
        f"test accuracy {test_acc:.2%} after {args.epochs} epochs in {trained:.1f} s of training (data made "
        f"in {data_seconds:.1f} s before; figures {time.perf_counter() - started - trained:.1f} s after)"
    )
    for path in [checkpoint_path, *figures]:
        print(f"wrote {path}")
    return 0
