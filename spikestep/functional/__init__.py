"""spikestep's functional core: pure functions (state in, state out) and whole-network helpers."""

from .delay import (
    check_delay_steps,
    delay,
    delay_bank_with_state,
    delay_step,
    delay_taps_with_state,
    delay_with_state,
    longest_delay,
)
from .learnable_delay import (
    delay_kernel,
    learnable_delay_taps_with_state,
    learnable_delay_with_state,
    sigma_schedule,
)
from .memory_state import load_memory_state, memory_state
from .net import detach_net, reset_net, set_step_mode
from .neuron import (
    charge_coefficients,
    neuron_charge,
    neuron_multi_step,
    neuron_multi_step_loop,
    neuron_step,
    neuron_walk_coefficients,
)
from .sequence import multi_step_forward, seq_to_ann_forward
from .synapse_filter import synapse_filter_multi_step, synapse_filter_step

__all__ = [
    "charge_coefficients",
    "check_delay_steps",
    "delay",
    "delay_bank_with_state",
    "delay_kernel",
    "delay_step",
    "delay_taps_with_state",
    "delay_with_state",
    "detach_net",
    "learnable_delay_taps_with_state",
    "learnable_delay_with_state",
    "load_memory_state",
    "longest_delay",
    "memory_state",
    "multi_step_forward",
    "neuron_charge",
    "neuron_multi_step",
    "neuron_multi_step_loop",
    "neuron_step",
    "neuron_walk_coefficients",
    "reset_net",
    "seq_to_ann_forward",
    "set_step_mode",
    "sigma_schedule",
    "synapse_filter_multi_step",
    "synapse_filter_step",
]
