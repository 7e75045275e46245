"""The DCLS-delays width schedule: the Gaussian kernel starts wide and narrows during training.

Hammouamri et al. (ICLR 2024) start each synapse's Gaussian at ``sigma = max_delay / 2`` (every delay
sees a broad window of lags, so the gradient can move it far) and shrink it geometrically to about 0.5
(nearly one tap) over the first quarter of training; afterwards the positions are refined at that width,
and rounded for inference. ``dcls``'s ``SIG`` is this ``sigma`` minus 0.27 (``Dcls1d`` uses
``|SIG| + 0.27``), so the reference code's ``SIG`` from ``max_delay // 2`` to 0.23 is ``sigma`` from
about ``max_delay / 2`` to 0.5 here.
"""

from __future__ import annotations

from .._checks import check_real

SIGMA_END = 0.5
UNTIL = 0.25


def initial_sigma(max_delay: int) -> float:
    """``max_delay / 2``, at least :data:`SIGMA_END`."""
    return max(max_delay / 2.0, SIGMA_END)


def _fraction(value: object, name: str, low_open: bool = False) -> float:
    return check_real(value, "sigma_schedule", name, 0, above=low_open)


def sigma_schedule(
    progress: float,
    max_delay: int,
    until: float = UNTIL,
    start: float | None = None,
    end: float = SIGMA_END,
) -> float:
    """The Gaussian's width at ``progress`` (the fraction of training done, 0 to 1: e.g.
    ``epoch / epochs``): ``start * (end / start) ** min(progress / until, 1)``, geometric from ``start``
    (default :func:`initial_sigma`, ``max_delay / 2``) down to ``end`` (0.5) at ``progress = until``
    (0.25, the first quarter of training), then ``end``.

    Example::

        >>> from spikestep.ops.delayed_linear.schedule import sigma_schedule
        >>> [round(sigma_schedule(p, max_delay=24), 3) for p in (0.0, 0.125, 0.25, 1.0)]
        [12.0, 2.449, 0.5, 0.5]
    """
    progress = _fraction(progress, "progress")
    until = _fraction(until, "until", low_open=True)
    end = _fraction(end, "end", low_open=True)
    start = initial_sigma(max_delay) if start is None else _fraction(start, "start", low_open=True)
    return start * (end / start) ** min(progress / until, 1.0)
