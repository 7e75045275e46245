"""functional.memory_state / load_memory_state: a stream paused after any chunk resumes bit for bit."""

import io
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn
from copy_checks import assert_bitwise_equal, assert_same_memories, memories

from spikestep import functional, layer, neuron
from spikestep.base import MemoryModule

# Built the same way in this process and in the fresh one (passed to ``python -c``): every stateful
# module. Multi-step: a Delay in each step mode (one inside a MultiStepContainer runs single steps, a
# ring). Single-step: every memory as single steps give it. Dropout is in training mode (its mask is a
# memory); the parameters are moved off their initial values so that the state_dict matters.
NET_SOURCE = textwrap.dedent(
    """
    import torch
    import torch.nn as nn
    from spikestep import functional, layer, neuron

    def build(step_mode):
        torch.manual_seed(0)
        single_step_delay = layer.Delay(2)
        net = nn.Sequential(
            layer.Linear(4, 6),
            layer.SynapseFilter(tau=3.0, learnable=True),
            neuron.ParametricLIFNode(init_tau=torch.linspace(1.5, 4.0, 6), v_reset=-0.2, store_v_seq=True),
            layer.Delay(3),
            layer.SynapseFilter(tau=torch.linspace(2.0, 5.0, 6)),
            neuron.LIFNode(tau=2.0, v_reset=None, decay_input=False, store_v_seq=True),
            layer.MultiStepContainer(single_step_delay) if step_mode == "m" else single_step_delay,
            layer.Dropout(0.25),
            layer.Linear(6, 3),
            neuron.IFNode(v_threshold=0.5, store_v_seq=True),
        )
        functional.set_step_mode(net, step_mode)
        return net
    """
)

RESUME_SOURCE = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    for folder in map(Path, sys.argv[1:]):
        job = torch.load(folder / "job.pt", weights_only=True)
        net = build(job["mode"])
        net.load_state_dict(torch.load(folder / "state_dict.pt", weights_only=True))
        functional.load_memory_state(net, torch.load(folder / "memory.pt", weights_only=True))
        outputs = [net(chunk) for chunk in job["rest"]]
        torch.save({"outputs": outputs, "memory": functional.memory_state(net)}, folder / "resumed.pt")
    """
)

_namespace: dict = {}
exec(NET_SOURCE, _namespace)
build = _namespace["build"]

# Chunks of a 14-step stream: several steps per call in multi-step mode, one step per call in single-step.
CHUNKS = {"m": [3, 2, 1, 4, 4], "s": [1] * 14}
PAUSES = {"m": [0, 2, 4], "s": [0, 5, 13]}


def _trained(net):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    return net


def _stream(mode):
    x = torch.rand(14, 5, 4, generator=torch.Generator().manual_seed(2)) * 3
    chunks = list(x.split(CHUNKS[mode]))
    return [c[0] for c in chunks] if mode == "s" else chunks


@pytest.mark.parametrize("mode", ["m", "s"])
def test_a_stream_resumed_in_a_new_process_matches_an_uninterrupted_run_bit_for_bit(mode, tmp_path):
    chunks = _stream(mode)
    clean = _trained(build(mode))
    expected = [clean(c) for c in chunks]  # the uninterrupted run
    ends_at = memories(clean)

    net = _trained(build(mode))
    folders = []
    for k, chunk in enumerate(chunks):
        if k in PAUSES[mode]:  # pause here: save the state; the run itself goes on
            folder = tmp_path / f"paused_after_{k}"
            folder.mkdir()
            torch.save(functional.memory_state(net), folder / "memory.pt")
            torch.save(net.state_dict(), folder / "state_dict.pt")
            torch.save({"mode": mode, "rest": chunks[k:]}, folder / "job.pt")
            folders.append((k, folder))
        assert_bitwise_equal(net(chunk), expected[k], f"chunk {k}")  # taking the state disturbs nothing

    result = subprocess.run(
        [sys.executable, "-c", NET_SOURCE + RESUME_SOURCE, *(str(f) for _, f in folders)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    spikes = torch.cat([e.flatten() for e in expected])
    assert 0 < spikes.mean() < 1  # the last layer fires, and not always
    for k, folder in folders:
        resumed = torch.load(folder / "resumed.pt", weights_only=True)
        assert len(resumed["outputs"]) == len(chunks) - k
        for i, out in enumerate(resumed["outputs"]):
            assert_bitwise_equal(out, expected[k + i], f"paused after chunk {k}: chunk {k + i}")
        final = functional.memory_state(clean)
        assert resumed["memory"].keys() == final.keys()
        for key, value in final.items():
            assert_bitwise_equal(resumed["memory"][key], value, f"paused after chunk {k}: memory {key}")
    assert memories(clean).keys() == ends_at.keys()


class _EveryKind(MemoryModule):
    """A memory of every kind a memory state encodes."""

    def __init__(self):
        super().__init__()
        self.register_memory("tensor", torch.arange(6.0).reshape(2, 3))
        self.register_memory("nothing", None)
        self.register_memory("flag", True)
        self.register_memory("count", 7)
        self.register_memory("big", -(2**62))
        self.register_memory("level", -0.0)
        self.register_memory("infinite", float("inf"))
        self.register_memory("ring", [torch.ones(2), torch.zeros(2, dtype=torch.float64)])
        self.register_memory("empty", [])
        self.register_memory("nested", (1, [2.5, None, torch.tensor(3)], False))

    def single_step_forward(self, x):
        return x


def test_every_kind_of_memory_round_trips_with_its_type_and_value():
    source = _EveryKind()
    source.tensor = torch.randn(4, 5).t()  # a transposed tensor: strides kept too
    state = functional.memory_state(source)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    target = _EveryKind()
    target.tensor = None  # a different kind now: replaced by the state's
    functional.load_memory_state(target, torch.load(buffer, weights_only=True))
    assert_same_memories(target, source)
    assert target.tensor.stride() == source.tensor.stride()
    assert str(target.level) == "-0.0"


def test_the_encoding_is_the_one_the_docstring_gives():
    state = functional.memory_state(nn.Sequential(_EveryKind()))
    assert set(state) == {
        "0.tensor", "0.nothing#none", "0.flag#bool", "0.count#int", "0.big#int", "0.level#float",
        "0.infinite#float", "0.ring#list", "0.ring#0", "0.ring#1", "0.empty#list", "0.nested#tuple",
        "0.nested#0#int", "0.nested#1#list", "0.nested#1#0#float", "0.nested#1#1#none", "0.nested#1#2",
        "0.nested#2#bool",
    }  # fmt: skip
    assert state["0.count#int"].dtype == torch.int64 and state["0.count#int"].dim() == 0
    assert state["0.level#float"].dtype == torch.float64 and int(state["0.ring#list"]) == 2


def test_keys_are_qualified_like_state_dict_keys():
    net = nn.Sequential(layer.Linear(2, 2), nn.Sequential(nn.ReLU(), neuron.LIFNode()))
    assert set(functional.memory_state(net)) == {"1.1.v#float", "1.1.v_seq#none"}
    assert set(functional.memory_state(neuron.IFNode())) == {"v#float", "v_seq#none"}  # the root: no prefix
    assert functional.memory_state(nn.Linear(2, 2)) == {}


@pytest.mark.parametrize("mode", ["m", "s"])
def test_memories_at_their_reset_values_round_trip_into_a_network_that_has_run(mode):
    chunks = _stream(mode)
    fresh_state = functional.memory_state(build(mode))
    assert all(v.dim() == 0 or v.numel() == 0 for v in fresh_state.values())  # nothing but reset values
    net = build(mode)
    net(chunks[0])
    functional.load_memory_state(net, fresh_state)
    assert_same_memories(net, build(mode))  # 0.0 stays a float, None stays None: not tensors
    expected = build(mode)
    torch.manual_seed(5)  # the dropout mask is drawn again, at the first call
    got = [net(chunk) for chunk in chunks]
    torch.manual_seed(5)
    assert_bitwise_equal(got, [expected(chunk) for chunk in chunks])


def test_saved_memories_are_detached_copies():
    net = build("m")
    net(_stream("m")[0].requires_grad_(True))
    assert net[2].v.requires_grad
    state = functional.memory_state(net)
    assert not any(t.requires_grad for t in state.values())
    state["2.v"].add_(1.0)
    assert not torch.equal(state["2.v"], net[2].v)


def test_synapse_current_that_views_the_output_is_saved_compactly():
    syn = layer.SynapseFilter(tau=2.0, step_mode="m")
    syn(torch.ones(50, 4))  # out_i is out[-1], a view into a [50, 4] tensor
    state = functional.memory_state(syn)
    assert state["out_i"].untyped_storage().nbytes() == 4 * 4


def test_loading_copies_the_tensors_in_instead_of_sharing_them():
    net = build("s")
    for chunk in _stream("s")[:4]:
        net(chunk)
    state = functional.memory_state(net)
    target = build("s")
    functional.load_memory_state(target, state)
    loaded = [t for m in memories(target).values() for t in (m if isinstance(m, (list, tuple)) else [m])]
    ptrs = {t.untyped_storage().data_ptr() for t in loaded if isinstance(t, torch.Tensor)}
    assert ptrs and ptrs.isdisjoint(t.untyped_storage().data_ptr() for t in state.values())
    before = target[2].v.clone()
    state["2.v"].fill_(100.0)
    assert torch.equal(target[2].v, before)


def _ran(mode="s", steps=4):
    net = build(mode)
    for chunk in _stream(mode)[:steps]:
        net(chunk)
    return net


def _error(net, state):
    with pytest.raises(ValueError) as info:
        functional.load_memory_state(net, state)
    return str(info.value)


def test_a_state_for_another_network_names_every_missing_and_unexpected_key():
    other = nn.Sequential(layer.SynapseFilter(), neuron.LIFNode())
    other(torch.ones(5, 6))
    message = _error(_ran(), functional.memory_state(other))
    assert "missing: '3.queue'" in message and "missing: '9.v'" in message
    assert "unexpected: '0.out_i'" in message and "unexpected: '1.v'" in message
    assert message.count("missing:") == 13 and message.count("unexpected:") == 3


def test_a_missing_key_is_named():
    state = functional.memory_state(_ran())
    del state["5.v"]
    message = _error(_ran(), state)
    assert "missing: '5.v' (memory 'v' of LIFNode '5')" in message and message.count("\n  ") == 1


def test_an_extra_key_is_named():
    state = functional.memory_state(_ran())
    state["5.u"] = torch.zeros(3)
    message = _error(_ran(), state)
    assert "unexpected: '5.u'" in message and message.count("\n  ") == 1


def test_a_wrong_shape_is_named_with_both_shapes():
    state = functional.memory_state(_ran())
    state["5.v"] = torch.zeros(5, 7)
    message = _error(_ran(), state)
    assert "'5.v': shape (5, 7) float32 in the state, but the network holds shape (5, 6) float32" in message


def test_a_wrong_dtype_is_named_with_both_dtypes():
    state = functional.memory_state(_ran())
    state["1.out_i"] = state["1.out_i"].double()
    message = _error(_ran(), state)
    assert (
        "'1.out_i': shape (5, 6) float64 in the state, but the network holds shape (5, 6) float32" in message
    )


def test_a_delay_ring_of_the_wrong_shape_is_named():
    state = functional.memory_state(_ran())
    state["6.queue"] = torch.zeros(state["6.queue"].shape[0], 5, 2)
    assert "'6.queue': shape (" in _error(_ran(), state)


def test_every_mismatch_is_listed_in_one_error():
    state = functional.memory_state(_ran())
    del state["2.v"]
    state["extra"] = torch.zeros(1)
    state["5.v"] = torch.zeros(2)
    state["1.out_i"] = state["1.out_i"].half()
    message = _error(_ran(), state)
    for needle in (
        "missing: '2.v'",
        "unexpected: 'extra'",
        "'5.v': shape (2,)",
        "'1.out_i': shape (5, 6) float16",
    ):
        assert needle in message
    assert message.count("\n  ") == 4


def test_nothing_is_loaded_when_the_state_does_not_fit():
    state = functional.memory_state(_ran(steps=2))
    state["9.v"] = torch.zeros(1)
    net = _ran()
    before = memories(net)
    with pytest.raises(ValueError):
        functional.load_memory_state(net, state)
    for key, value in memories(net).items():
        assert_bitwise_equal(value, before[key], key)


def test_a_network_after_reset_net_takes_a_state_of_another_batch_size():
    small = build("s")
    small(torch.rand(2, 4))
    net = _ran()  # batch 5
    with pytest.raises(ValueError, match="reset_net"):
        functional.load_memory_state(net, functional.memory_state(small))
    functional.reset_net(net)
    functional.load_memory_state(net, functional.memory_state(small))
    assert net[2].v.shape == (2, 6)


def test_a_delay_ring_for_another_delay_is_refused_on_a_fresh_network_too():
    short = nn.Sequential(layer.Delay(2))
    short(torch.ones(3))
    message = _error(nn.Sequential(layer.Delay(3)), functional.memory_state(short))
    assert (
        "'0.queue': a Delay with max_delay=3 holds a [3, ...] tensor, the state has shape (2, 3)" in message
    )


def test_a_multi_step_delay_queue_for_another_delay_is_refused():
    short = nn.Sequential(layer.Delay(2, step_mode="m"))
    short(torch.ones(4, 3))
    message = _error(nn.Sequential(layer.Delay(3, step_mode="m")), functional.memory_state(short))
    assert "a Delay with max_delay=3 holds a [3, ...] tensor, the state has shape (2, 3)" in message


def test_a_ring_start_out_of_range_is_refused():
    state = functional.memory_state(_ran())
    state["3.ring_start#int"] = torch.tensor(3)
    assert "'3.ring_start': must be an int in [0, 2] for max_delay=3, got 3" in _error(build("s"), state)


def test_a_v_seq_that_does_not_match_v_is_refused():
    state = functional.memory_state(_ran("m", steps=2))
    state["2.v_seq"] = state["2.v_seq"][:, :3]
    assert "'2.v_seq': a neuron's v_seq is [T, *v.shape] = [T, 5, 6]" in _error(build("m"), state)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "0.v#float",
            torch.tensor([0.0]),
            "'0.v#float': should be a 0-d floating tensor, got shape (1,) float32",
        ),
        ("0.v#float", torch.tensor(1), "should be a 0-d floating tensor, got shape () int64"),
        ("0.v_seq#none", torch.zeros(2), "'0.v_seq#none': should be an empty tensor"),
    ],
)
def test_an_entry_that_breaks_the_encoding_is_named(key, value, expected):
    net = nn.Sequential(neuron.LIFNode())
    state = functional.memory_state(net)
    state[key] = value
    assert expected in _error(net, state)


def test_a_ring_start_that_is_not_an_integer_is_named():
    state = functional.memory_state(_ran())
    state["3.ring_start#int"] = torch.tensor(2.5)
    assert "'3.ring_start#int': should be a 0-d integer tensor" in _error(build("s"), state)


def test_a_memory_encoded_twice_is_named():
    state = functional.memory_state(_ran())
    state["5.v#none"] = torch.zeros(0)
    assert "'5.v': encoded more than once ('5.v', '5.v#none')" in _error(_ran(), state)


def test_a_state_that_is_not_a_dict_of_tensors_is_a_type_error():
    with pytest.raises(TypeError, match=r"functional\.memory_state"):
        functional.load_memory_state(build("s"), [torch.zeros(1)])
    with pytest.raises(TypeError, match=r"'0\.out_i': float"):
        functional.load_memory_state(nn.Sequential(layer.SynapseFilter()), {"0.out_i": 0.0})


def test_a_network_that_is_not_a_module_is_a_type_error():
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        functional.memory_state({"v": torch.zeros(1)})
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        functional.load_memory_state(None, {})


def test_a_memory_of_a_kind_a_state_cannot_hold_is_a_type_error():
    module = _EveryKind()
    module.count = "seven"
    with pytest.raises(TypeError, match=r"_EveryKind memory 'count' \('count'\) holds a str"):
        functional.memory_state(module)


def test_a_resumed_delay_switches_step_mode_like_the_original():
    x = torch.rand(9, 2, 3, generator=torch.Generator().manual_seed(3))
    original = layer.Delay(3)
    for t in range(4):
        original(x[t])  # a ring, started at 1
    resumed = layer.Delay(3)
    functional.load_memory_state(resumed, functional.memory_state(original))
    for m in (original, resumed):
        m.step_mode = "m"
    assert_bitwise_equal(resumed(x[4:]), original(x[4:]))
