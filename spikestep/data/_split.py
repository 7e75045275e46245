"""A data set split into a training part and a held-out test part."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DataSplit:
    """Training and held-out test samples of one data set, as float32 inputs and int64 labels.

    ``x_train`` ``[N_train, ...]``, ``y_train`` ``[N_train]``, ``x_test`` ``[N_test, ...]``, ``y_test``
    ``[N_test]``; labels are in ``0 .. num_classes - 1``.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"{self.name}: x_{part} has {x.shape[0]} samples but y_{part} has {y.shape[0]} labels"
                )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one input sample (without the batch dimension)."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (
            f"DataSplit({self.name!r}, train={tuple(self.x_train.shape)}, test={tuple(self.x_test.shape)}, "
            f"num_classes={self.num_classes})"
        )
