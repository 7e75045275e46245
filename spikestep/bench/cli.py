"""``python -m spikestep.bench``: the benchmark's command line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from typing import Any

import torch

from .. import ops as kernels
from .._runtime import numba_jit as _numba
from .._runtime import triton_jit as _triton
from .cases import default_cases
from .runner import format_table, run

STEPS = (16, 64, 256)
ELEMENTS = (1_000, 100_000, 1_000_000)
QUICK_STEPS = (16, 64)
QUICK_ELEMENTS = (1_000, 100_000)


def _at_least_one(text: str) -> int:
    """argparse type: a whole number >= 1 (argparse prints the message, the option and usage; exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m spikestep.bench",
        description=(
            "Time spikestep's fused multi-step paths (SynapseFilter forward and forward+backward, Delay "
            "forward, LIF/PLIF neurons) against the specification's per-step loop and the memory floor x.clone() of the same "
            "[T, N] tensor (N = elements per step), float32 on the CPU (or a GPU: --device cuda). 'fused' is "
            "the backend spikestep picks (numba on the CPU, Triton on CUDA, when usable), 'torch' the pure "
            "PyTorch fallback, 'loop' single steps stacked with autograd recording each step, 'SJ' "
            "SpikingJelly when installed. Times are medians in ms."
        ),
    )
    parser.add_argument(
        "--T", type=_at_least_one, nargs="+", default=None, help=f"time steps, >= 1 (default {STEPS})"
    )
    parser.add_argument(
        "--N",
        type=_at_least_one,
        nargs="+",
        default=None,
        help=f"elements per step, >= 1 (default {ELEMENTS})",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"a small subset: T {QUICK_STEPS}, N {QUICK_ELEMENTS}"
    )
    parser.add_argument(
        "--repeats", type=_at_least_one, default=7, help="samples per median, >= 1 (default 7)"
    )
    parser.add_argument(
        "--loop-repeats",
        type=_at_least_one,
        default=2,
        help="samples for the slow per-step loop, >= 1 (default 2)",
    )
    parser.add_argument(
        "--backend",
        choices=("both", "auto", "numba", "triton", "torch"),
        default="both",
        help="fused paths to time: 'both' (default) = auto and the torch fallback; or just one",
    )
    parser.add_argument("--no-loop", action="store_true", help="skip the per-step loop baseline")
    parser.add_argument(
        "--cases", nargs="+", default=None, help="only the cases whose name contains one of these"
    )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where the tensors live (default cpu)"
    )
    parser.add_argument(
        "--threads", type=_at_least_one, default=None, help="torch.set_num_threads, >= 1 (default: torch's)"
    )
    parser.add_argument(
        "--json", metavar="PATH", default=None, help="also write the rows and settings as JSON"
    )
    parser.add_argument(
        "--train-step",
        action="store_true",
        help=(
            "time one training step of the MNIST-1D network, eager against torch.compile, and, when "
            "SpikingJelly is installed (pip install 'spikestep[peers]'), against the same network built "
            "from SpikingJelly 2.0 parts, timed alternately in one process (alone, unless --cases asks for "
            "table rows too)"
        ),
    )
    parser.add_argument(
        "--under-load",
        action="store_true",
        help=(
            "time that training step on a quiet machine and with two other trainings (started by the "
            "bench) running on the same cores, and the SpikingJelly network's step too when SpikingJelly "
            "is installed (alone, unless --cases asks for table rows too)"
        ),
    )
    parser.add_argument(
        "--delays",
        action="store_true",
        help=(
            "time layer.DelayedLinear forward+backward (Gaussian, 2-tap and 1-tap kernels) and layer.Delay "
            "at T=100, B=32, 256 -> 256, max_delay 25, against dcls.Dcls1d on the same synapses when dcls "
            "is installed (pip install 'spikestep[delays]'), in interleaved rounds (alone, unless --cases "
            "asks for table rows too)"
        ),
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help=(
            "the speed targets as one table: SynapseFilter and LIF against SpikingJelly 2.0 (pip install "
            "'spikestep[peers]'), the fused walks against the clone floor at N=1e6 and, on the CPU, the "
            "training step against the same network from SpikingJelly parts; each row's contenders in "
            "interleaved rounds, with its target and whether it is met (alone, unless --cases asks for "
            "table rows too)"
        ),
    )
    parser.add_argument(
        "--allocator",
        choices=tuple(_ALLOCATOR_ENV),
        default="system",
        help=(
            "'system' (default): the allocator a user's process gets, as the process starts; 'reuse': "
            "rerun under glibc settings that keep freed memory for reuse "
            f"({_settings('reuse')}), the steady state of a process that set them; 'hugepages': rerun "
            f"with PyTorch's own switch for 2 MiB pages on big CPU tensors ({_settings('hugepages')}), "
            "so a fresh tensor costs one page fault per 2 MiB instead of per 4 KiB. With glibc's "
            "defaults each tensor over 32 MB (and often smaller ones) is fresh memory whose page faults "
            "can cost more than the copy itself, so the floor and the fused paths (which allocate "
            "[T, N] tensors) vary more from run to run than the per-step loop (small tensors)"
        ),
    )
    return parser


# What each --allocator choice sets before the process starts (glibc and PyTorch read these at start-up).
# reuse: glibc malloc never hands big blocks back to the OS (no mmap per allocation, no heap trimming).
# hugepages: PyTorch's CPU allocator aligns tensors of 2 MiB and more to 2 MiB and advises the kernel to
# back them with transparent huge pages (THP in "madvise" mode, the common default).
_ALLOCATOR_ENV: dict[str, dict[str, str]] = {
    "system": {},
    "reuse": {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 40)},
    "hugepages": {"THP_MEM_ALLOC_ENABLE": "1"},
}


def _settings(allocator: str) -> str:
    return " ".join(f"{k}={v}" for k, v in _ALLOCATOR_ENV[allocator].items())


def _rerun_with_allocator(allocator: str, argv: list[str]) -> int | None:
    """Run the benchmark again in a child process with ``allocator``'s settings (:data:`_ALLOCATOR_ENV`,
    read at start-up); ``None`` when there are none, this process already has them, or it is not on
    Linux."""
    wanted = _ALLOCATOR_ENV[allocator]
    if not wanted or not sys.platform.startswith("linux"):
        return None
    if all(os.environ.get(k) == v for k, v in wanted.items()):
        return None
    env = {**os.environ, **wanted}
    return subprocess.call([sys.executable, "-m", "spikestep.bench", *argv], env=env)


def _environment() -> dict[str, Any]:
    numba_version = None
    if _numba.available():
        numba_version = _numba._import_numba().__version__
    return {
        "torch": torch.__version__,
        "numba": numba_version,
        "numba_status": _numba.unavailable_reason() or "available",
        "triton_status": (_triton.unavailable_reason() or "available")
        if torch.cuda.is_available()
        else "no GPU",
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def _train_step_rows(args: argparse.Namespace) -> dict[str, Any]:
    """The MNIST-1D training-step rows asked for (``--train-step``, ``--under-load``), printed; with
    SpikingJelly installed, the same network from SpikingJelly 2.0 parts too."""
    from . import peer_network, train_step

    extra: dict[str, Any] = {}
    peers = peer_network.spikingjelly_available()
    if args.train_step:
        r = train_step.compiled_against_eager(args.repeats * 2)
        print(
            f"training step (MNIST-1D network, batch 128, T=40): eager {r['eager']:.1f} ms, torch.compile "
            f"{r['compiled']:.1f} ms (eager / compiled {r['eager'] / r['compiled']:.2f}x; compiling took "
            f"{r['compile_s']:.0f} s)",
            flush=True,
        )
        extra["train_step"] = r
        if peers:
            p = train_step.peer_against_spikestep(args.repeats * 2)
            print(
                f"SpikingJelly 2.0 network (same architecture and weights, eager): {p['spikingjelly_ms']:.1f} "
                f"ms on {p['spikingjelly_threads']:.0f} threads, against spikestep eager "
                f"{p['spikestep_ms']:.1f} ms (on {p['spikestep_threads']:.0f}) in the same rounds: SJ / "
                f"spikestep {p['ratio']:.2f}x (per-round quartiles {p['ratio_q1']:.2f}-{p['ratio_q3']:.2f}x); "
                f"SJ on 1 thread {p['spikingjelly_one_thread_ms']:.1f} ms, {p['ratio_one_thread']:.2f}x",
                flush=True,
            )
            if "ratio_with_free_neurons" in p:
                print(
                    f"the same steps with every neuron a pass-through (what the rest costs): spikestep "
                    f"{p['spikestep_without_neurons_ms']:.1f} ms, SJ {p['spikingjelly_without_neurons_ms']:.1f} "
                    f"ms; so neurons that cost nothing would give at most SJ / spikestep "
                    f"{p['ratio_with_free_neurons']:.2f}x",
                    flush=True,
                )
            extra["train_step_peer"] = p
    if args.under_load:
        r = train_step.under_load(repeats=args.repeats * 2, peers=peers)
        print(
            f"training step under load: quiet {r['quiet_ms']:.1f} ms, with 2 other trainings on the cores "
            f"{r['loaded_ms']:.1f} ms ({r['loaded_ms'] / r['quiet_ms']:.1f}x; a fair share is 3x)",
            flush=True,
        )
        if peers:
            print(
                f"SpikingJelly 2.0 network under load: quiet {r['sj_quiet_ms']:.1f} ms, with the same 2 "
                f"trainings {r['sj_loaded_ms']:.1f} ms ({r['sj_loaded_ms'] / r['sj_quiet_ms']:.1f}x; SJ / "
                f"spikestep {r['sj_quiet_ms'] / r['quiet_ms']:.2f}x quiet, "
                f"{r['sj_loaded_ms'] / r['loaded_ms']:.2f}x loaded); on 1 thread (torch.set_num_threads(1)) "
                f"{r['sj_loaded_one_thread_ms']:.1f} ms loaded "
                f"({r['sj_loaded_one_thread_ms'] / r['loaded_ms']:.2f}x spikestep)",
                flush=True,
            )
        extra["under_load"] = r
    return extra


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark with command-line arguments ``argv`` (default ``sys.argv[1:]``); return 0."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    code = _rerun_with_allocator(args.allocator, argv)
    if code is not None:
        return code
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    steps = args.T or (QUICK_STEPS if args.quick else STEPS)
    elements = args.N or (QUICK_ELEMENTS if args.quick else ELEMENTS)
    cases = default_cases()
    if (args.train_step or args.under_load or args.delays or args.peers) and not args.cases:
        cases = []  # only the training-step rows were asked for
    if args.cases:
        cases = [c for c in cases if any(part.lower() in c.name.lower() for part in args.cases)]
        if not cases:
            raise SystemExit(f"--cases {args.cases} matched none of {[c.name for c in default_cases()]}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch here")
    backends = ("auto", "torch") if args.backend == "both" else (args.backend,)
    for forced in {"numba", "triton"} & set(backends):  # fail early, with the reason
        try:
            kernels.resolve_backend(
                torch.empty(0, dtype=getattr(torch, args.dtype), device=args.device), backend=forced
            )
        except RuntimeError as error:
            raise SystemExit(f"--backend {forced}: {error}") from None
    sizes = [(t, n) for n in elements for t in steps]
    env = _environment()
    where = f"CPU, {env['threads']} threads" if args.device == "cpu" else torch.cuda.get_device_name()
    print(
        f"spikestep.bench: {args.dtype}, {where}, numba: {env['numba_status']}, "
        f"triton: {env['triton_status']}, allocator: {args.allocator}"
        + "".join(f" {k}={os.environ.get(k)}" for k in _ALLOCATOR_ENV[args.allocator]),
        flush=True,
    )

    def progress(row: dict[str, Any]) -> None:
        times = ", ".join(f"{k}={v:.3f}" for k, v in row.items() if k.endswith("_ms") and v is not None)
        print(f"  done: {row['case']} T={row['T']} N={row['N']}: {times}", file=sys.stderr, flush=True)

    rows = []
    if cases:
        rows = run(
            cases,
            sizes,
            dtype=getattr(torch, args.dtype),
            repeats=args.repeats,
            loop_repeats=args.loop_repeats,
            backends=backends,
            loop=not args.no_loop,
            progress=progress,
            device=args.device,
        )
        print(format_table(rows), flush=True)
    extra = _train_step_rows(args)
    if args.peers:
        from . import peer_table

        print(
            f"targets against SpikingJelly 2.0 (SJ / spikestep) and the clone floor (spikestep / clone), "
            f"each row's contenders in interleaved rounds, {args.repeats} samples, medians:",
            flush=True,
        )
        extra["peers"] = peer_table.measure(
            args.device, args.repeats, progress=progress, peer_step=extra.get("train_step_peer")
        )
        print(peer_table.format_rows(extra["peers"]), flush=True)
    if args.delays:
        from . import delay_cases

        print(delay_cases.header(100, 32, (256, 256), 25), flush=True)
        extra["delays"] = delay_cases.delay_rows(repeats=args.repeats)
        print(delay_cases.format_rows(extra["delays"]), flush=True)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k != "json"}
        with open(args.json, "w") as f:
            json.dump({"environment": env, "settings": settings, "rows": rows, **extra}, f, indent=2)
        print(f"wrote {args.json}")
    return 0
