"""``spikestep demo delays``: a LearnableDelay finds planted delays from a random start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch

from .. import functional
from ..layer import LearnableDelay, SynapseFilter

PLANTED = (3.0, 11.0, 7.0, 14.0, 1.0, 9.0)
MAX_DELAY = 16


@dataclass
class DelayFit:
    planted: torch.Tensor  # [C]
    history: torch.Tensor  # [steps + 1, C]: the learned delays at the start and after each step
    sigmas: list[float]
    losses: list[float]

    @property
    def learned(self) -> torch.Tensor:
        return self.history[-1]


def fit_planted_delays(steps: int = 150, T: int = 120, batch: int = 16, seed: int = 0) -> DelayFit:
    """Learn per-channel delays that reproduce a target made with planted ones.

    Six channels of random spikes (rate 0.15); the target is each channel shifted by its planted delay
    and passed through a synapse filter (tau 4), a smooth trace to compare with. The student is a
    :class:`~spikestep.layer.LearnableDelay` from random delays in ``[0, 16]`` followed by the same filter,
    trained with Adam on the mean squared error while its kernel narrows from ``sigma = 8`` to ``0.5``
    (``functional.sigma_schedule``) and then to linear interpolation for the last quarter.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    planted = torch.tensor(PLANTED)
    channels = len(PLANTED)
    student = LearnableDelay(channels, MAX_DELAY, init="uniform", step_mode="m")
    smooth = SynapseFilter(tau=4.0, step_mode="m")
    optimiser = torch.optim.Adam(student.parameters(), lr=0.25)
    history, sigmas, losses = [student.delay.detach().clone()], [], []
    for step in range(steps):
        progress = step / steps
        student.sigma = 0.0 if progress >= 0.75 else functional.sigma_schedule(progress, MAX_DELAY)
        spikes = (torch.rand(T, batch, channels, generator=g) < 0.15).float()
        target = smooth(functional.delay(spikes, planted.long()))
        functional.reset_net(smooth)
        out = smooth(student(spikes))
        loss = ((out - target) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            student.delay.clamp_(0.0, MAX_DELAY)
        functional.reset_net(student)
        functional.reset_net(smooth)
        history.append(student.delay.detach().clone())
        sigmas.append(student.sigma)
        losses.append(loss.item())
    return DelayFit(planted, torch.stack(history), sigmas, losses)


def draw(plt: ModuleType, path: Path) -> None:
    fit = fit_planted_delays()
    colors = plt.get_cmap("tab10").colors
    fig, (ax_d, ax_s) = plt.subplots(
        2, 1, figsize=(9, 6.5), sharex=True, height_ratios=[3, 1.2], constrained_layout=True
    )
    steps = range(len(fit.history))
    for c, planted in enumerate(fit.planted.tolist()):
        color = colors[c % len(colors)]
        ax_d.plot(steps, fit.history[:, c].numpy(), color=color, lw=1.8, label=f"channel {c}")
        ax_d.axhline(planted, color=color, ls="--", lw=1, alpha=0.8)
    ax_d.set(
        ylabel="delay (steps)",
        ylim=(-0.5, MAX_DELAY + 0.5),
        title="learned delays (solid) converge to the planted ones (dashed)",
    )
    ax_d.legend(ncol=3, fontsize=8, loc="upper right")
    ax_d.grid(alpha=0.3)
    ax_s.plot(range(1, len(fit.sigmas) + 1), fit.sigmas, color="black", lw=1.5, label="kernel width sigma")
    ax_s.set(xlabel="training step", ylabel="sigma (steps)")
    ax_loss = ax_s.twinx()
    ax_loss.semilogy(range(1, len(fit.losses) + 1), fit.losses, color="tab:red", lw=1, alpha=0.7)
    ax_loss.set_ylabel("loss", color="tab:red")
    ax_s.grid(alpha=0.3)
    error = (fit.learned - fit.planted).abs().max().item()
    fig.suptitle(
        f"LearnableDelay: planted delays found from a random start (largest error {error:.2f} steps)",
        fontweight="bold",
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"planted delays {[round(v, 2) for v in fit.planted.tolist()]}")
    print(f"learned delays {[round(v, 2) for v in fit.learned.tolist()]} (largest error {error:.2f} steps)")
