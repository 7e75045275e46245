"""``spikestep demo``: the specification's pictures, drawn by the layers themselves, as PNG files.

- ``synapse``: input spikes and the current a :class:`~spikestep.layer.SynapseFilter` makes of them;
- ``delay``: a sequence and its copy from a :class:`~spikestep.layer.Delay`;
- ``voting``: a population's firing rates and the votes per class of a :class:`~spikestep.layer.VotingLayer`;
- ``delays``: a :class:`~spikestep.layer.LearnableDelay` learning planted delays from a random start.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from ..layer import Delay, SynapseFilter, VotingLayer
from . import _delays_demo
from ._common import pyplot, writable_dir

_DPI = 120


def _synapse(plt: ModuleType, path: Path) -> None:
    steps = 100
    spikes = torch.zeros(steps)
    # A burst, a pause, a regular train, a lone spike: how the current adds up and fades.
    spikes[[5, 7, 8, 10, 12, 13, 40, 50, 60, 70, 80, 92]] = 1.0
    taus = (5.0, 20.0)
    fig, (ax_in, ax_i) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=[1, 2.4])
    t_spk = torch.nonzero(spikes).flatten().numpy()
    ax_in.vlines(t_spk, 0, 1, color="black", lw=1.5)
    ax_in.set(ylim=(0, 1.15), yticks=[], ylabel="input\nspikes", title="input spike train x[t]")
    for tau, color in zip(taus, ("tab:blue", "tab:orange"), strict=True):
        current = SynapseFilter(tau=tau, step_mode="m")(spikes.unsqueeze(1)).squeeze(1)
        ax_i.plot(range(steps), current.numpy(), color=color, lw=1.8, label=f"tau = {tau:g} steps")
    ax_i.set(xlabel="time step t", ylabel="synaptic current I[t]", title="SynapseFilter output")
    ax_i.legend()
    for ax in (ax_in, ax_i):
        ax.grid(alpha=0.3)
    fig.suptitle("SynapseFilter: I[t] = I[t-1] - (1 - x[t]) I[t-1] / tau + x[t]", fontweight="bold")
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def _delay(plt: ModuleType, path: Path) -> None:
    steps, d = 40, 6
    t = torch.arange(steps, dtype=torch.float32)
    signal = torch.exp(-(((t - 10) / 3) ** 2)) - 0.6 * torch.exp(-(((t - 18) / 2) ** 2))
    delayed = Delay(d, step_mode="m")(signal)
    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True, sharey=True)
    for ax, y, color, title in (
        (axes[0], signal, "tab:blue", "input x[t]"),
        (axes[1], delayed, "tab:green", f"Delay({d}) output y[t] = x[t - {d}] (zeros before the start)"),
    ):
        ax.stem(t.numpy(), y.numpy(), linefmt=color, markerfmt="o", basefmt="lightgrey")
        ax.set(ylabel="value", title=title)
        ax.grid(alpha=0.3)
    peak = int(signal.argmax())
    axes[1].annotate(
        "",
        xy=(peak + d, 1.05),
        xytext=(peak, 1.05),
        arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.5},
    )
    axes[1].text(peak + d / 2, 1.12, f"{d} steps", ha="center")
    axes[1].set(xlabel="time step t", ylim=(-0.8, 1.35))
    fig.suptitle("Delay: the same sequence, later", fontweight="bold")
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def _voting(plt: ModuleType, path: Path) -> None:
    n_classes, voting_size = 10, 10
    generator = torch.Generator().manual_seed(0)
    rates = 0.25 * torch.rand(n_classes, voting_size, generator=generator)
    rates[3] += 0.45 * torch.rand(voting_size, generator=generator) + 0.2  # class 3's population is busy
    rates[8] += 0.25 * torch.rand(voting_size, generator=generator)  # a runner-up
    votes = VotingLayer(voting_size)(rates.flatten().unsqueeze(0)).squeeze(0)
    winner = int(votes.argmax())
    fig, (ax_pop, ax_votes) = plt.subplots(1, 2, figsize=(10, 4.6), width_ratios=[1.3, 1])
    image = ax_pop.imshow(rates.numpy(), cmap="magma", vmin=0, vmax=1, aspect="auto")
    fig.colorbar(image, ax=ax_pop, label="firing rate")
    ax_pop.set(
        xlabel=f"neuron in the class's population (voting_size = {voting_size})",
        ylabel="class",
        yticks=range(n_classes),
        xticks=range(voting_size),
        title=f"output population: {n_classes} x {voting_size} neurons",
    )
    colors = ["tab:red" if c == winner else "tab:grey" for c in range(n_classes)]
    ax_votes.barh(range(n_classes), votes.numpy(), color=colors)
    ax_votes.set(
        ylim=(n_classes - 0.5, -0.5),
        yticks=range(n_classes),
        xlabel="votes (mean rate of the population)",
        ylabel="class",
        title=f"VotingLayer output: class {winner} wins",
    )
    ax_votes.grid(axis="x", alpha=0.3)
    fig.suptitle("VotingLayer: each class's score is the mean of its neurons", fontweight="bold")
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


DEMOS = {"synapse": _synapse, "delay": _delay, "voting": _voting, "delays": _delays_demo.draw}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``demo`` subcommand to ``subparsers``."""
    p = subparsers.add_parser(
        "demo",
        help="draw the pictures of the synapse filter, the delay, the voting layer and learned delays",
        description="Draw what a layer does as a PNG file in --out: 'synapse' (input spikes and the filtered "
        "current), 'delay' (a sequence and its delayed copy), 'voting' (votes per class), 'delays' (learnable "
        "delays finding planted ones, with what they learned printed), or 'all'.",
    )
    p.add_argument("which", nargs="?", choices=[*DEMOS, "all"], default="all", help="picture to draw")
    p.add_argument("--out", default=str(Path("runs") / "demo"), help="output folder (default runs/demo)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Draw the chosen picture(s); print the paths written. Returns 0."""
    out = writable_dir(args.out)
    plt = pyplot("spikestep demo")
    names = list(DEMOS) if args.which == "all" else [args.which]
    for name in names:
        path = out / f"{name}.png"
        DEMOS[name](plt, path)
        print(f"wrote {path}")
    return 0
