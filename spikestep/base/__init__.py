"""The runtime every spikestep module stands on: step modes and memories."""

from .memory_module import MemoryModule
from .step_module import STEP_MODES, MultiStepModule, SingleStepModule, StepModule, check_step_mode

__all__ = [
    "STEP_MODES",
    "MemoryModule",
    "MultiStepModule",
    "SingleStepModule",
    "StepModule",
    "check_step_mode",
]
