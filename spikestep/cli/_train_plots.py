"""The figures ``spikestep train`` saves: accuracy curve, output spike raster, firing rates per layer."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import torch

_DPI = 120


def _accuracy(plt: ModuleType, path: Path, dataset: str, history: dict[str, list[float]]) -> None:
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = range(1, len(history["test_acc"]) + 1)
    if history["test_acc"]:
        ax_acc.plot(epochs, [100 * a for a in history["train_acc"]], "o-", ms=3, label="train")
        ax_acc.plot(epochs, [100 * a for a in history["test_acc"]], "o-", ms=3, label="test (held out)")
        best = max(history["test_acc"])
        ax_acc.axhline(100 * best, color="grey", lw=0.8, ls=":", label=f"best test {best:.1%}")
        ax_acc.legend(loc="lower right")
        ax_loss.plot(epochs, history["train_loss"], "o-", ms=3, color="tab:red")
        title = f"{dataset}: test accuracy {history['test_acc'][-1]:.2%} after {len(epochs)} epochs"
    else:
        for ax in (ax_acc, ax_loss):
            ax.text(0.5, 0.5, "no epochs trained", ha="center", va="center", transform=ax.transAxes)
        title = f"{dataset}: untrained"
    from matplotlib.ticker import MaxNLocator

    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="training loss")
    ax_loss.set_ylim(bottom=0)
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def _input_panel(ax: object, x: torch.Tensor, dataset: str) -> None:
    if dataset == "digits":
        ax.imshow(x.reshape(8, 8).numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set(title="input image (8x8)", xticks=[], yticks=[])
    else:
        ax.plot(range(len(x)), x.numpy(), color="black", lw=1.5)
        ax.set(title="input sequence (one value per step)", xlabel="time step", ylabel="value")
        ax.grid(alpha=0.3)


# tab10 without its grey, which reads as "no class"; one colour per class.
_CLASS_COLORS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#1a1a6e", "#bcbd22", "#17becf",
]  # fmt: skip


def _raster(
    plt: ModuleType,
    path: Path,
    dataset: str,
    x: torch.Tensor,
    spikes: torch.Tensor,
    voting_size: int,
    label: int,
    scores: torch.Tensor,
    readout: str,
) -> None:
    from matplotlib.colors import to_rgb

    predicted = int(scores.argmax())
    n_steps, n_neurons = spikes.shape
    n_classes = n_neurons // voting_size
    # One pixel per (neuron, step): white, or the neuron's class colour where it fired.
    image = torch.ones(n_neurons, n_steps, 3)
    for c in range(n_classes):
        rows = slice(c * voting_size, (c + 1) * voting_size)
        fired = spikes[:, rows].t() > 0
        image[rows][fired] = torch.tensor(to_rgb(_CLASS_COLORS[c % 10]))

    fig = plt.figure(figsize=(12, 5), layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[1.1, 2.6, 0.9])
    _input_panel(fig.add_subplot(grid[0]), x, dataset)
    ax = fig.add_subplot(grid[1])
    ax_votes = fig.add_subplot(grid[2], sharey=ax)
    ax.imshow(image.numpy(), aspect="auto", interpolation="nearest", origin="lower")
    for c in range(1, n_classes):
        ax.axhline(c * voting_size - 0.5, color="lightgrey", lw=0.6)
    centers = [c * voting_size + (voting_size - 1) / 2 for c in range(n_classes)]
    ax.set(
        xlim=(-0.5, n_steps - 0.5),
        ylim=(-0.5, n_neurons - 0.5),
        yticks=centers,
        yticklabels=[str(c) for c in range(n_classes)],
        xlabel="time step",
        ylabel=f"output neurons, by class ({voting_size} each)",
        title=f"output spikes: label {label}, predicted {predicted}",
    )
    for c in range(n_classes):
        ax_votes.barh(
            centers[c],
            scores[c].item(),
            height=voting_size * 0.8,
            color=_CLASS_COLORS[c % 10],
            alpha=1.0 if c == predicted else 0.4,
            edgecolor="black" if c == predicted else "none",
        )
    how = "firing rate" if readout == "voting" else "current at the last step / T"
    ax_votes.set(xlabel=f"class score\n({how})", title=f"{readout} readout")
    ax_votes.tick_params(labelleft=False)
    ax_votes.grid(axis="x", alpha=0.3)
    verdict = "correct" if label == predicted else "wrong"
    fig.suptitle(f"{dataset}: first test sample ({verdict})", fontweight="bold")
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def _rates(plt: ModuleType, path: Path, dataset: str, rates: list[tuple[str, float]]) -> None:
    fig, ax = plt.subplots(figsize=(1.6 * len(rates) + 3, 4))
    names = [name for name, _ in rates]
    values = [rate for _, rate in rates]
    bars = ax.bar(names, values, color=plt.get_cmap("viridis")(0.35), width=0.6)
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=3)
    ax.set(
        ylabel="mean firing rate\n(spikes per neuron per step)",
        ylim=(0, max([*values, 0.05]) * 1.2),
        title=f"{dataset}: firing rate per spiking layer (test samples)",
    )
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def delay_distribution(plt: ModuleType, path: Path, banks: list[tuple[str, torch.Tensor, int]]) -> None:
    """One histogram per learned delay bank: how many channels ended at each (integer) delay, next to the
    fixed taps' lags it started from."""
    fig, axes = plt.subplots(1, len(banks), figsize=(4.2 * len(banks), 3.6), squeeze=False)
    for ax, (name, delays, max_delay) in zip(axes[0], banks, strict=True):
        counts = torch.bincount(delays.round().long().clamp(0, max_delay), minlength=max_delay + 1)
        ax.bar(range(max_delay + 1), counts.numpy(), color=plt.get_cmap("viridis")(0.55), width=0.8)
        ax.set(xlabel="learned delay (steps)", ylabel="channels", title=f"{name} (max {max_delay})")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("learned delays per layer (after rounding)", fontweight="bold")
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def save_all(
    plt: ModuleType,
    out: Path,
    *,
    dataset: str,
    history: dict[str, list[float]],
    rates: list[tuple[str, float]],
    x: torch.Tensor,
    spikes: torch.Tensor,
    voting_size: int,
    label: int,
    scores: torch.Tensor,
    readout: str,
) -> list[Path]:
    """Write ``accuracy.png``, ``raster.png`` and ``firing_rates.png`` into ``out``; return their paths."""
    paths = [out / "accuracy.png", out / "raster.png", out / "firing_rates.png"]
    _accuracy(plt, paths[0], dataset, history)
    _raster(plt, paths[1], dataset, x, spikes, voting_size, label, scores, readout)
    _rates(plt, paths[2], dataset, rates)
    return paths
