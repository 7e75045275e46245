"""The one place that decides whether numba is usable, and how kernels are compiled and launched.

numba is optional (the ``fast`` extra). Nothing here imports it until a kernel is first needed, so
``import spikestep`` stays fast and works without it. Kernel modules (``spikestep/ops/*/numba_kernel.py``) use
this small API and nothing else from numba directly (``prange`` excepted)::

    from spikestep._runtime import numba_jit as _numba

    def _walk(x, out, lo, hi):  # a plain Python function; numba compiles it on first use
        for t in range(x.shape[0]):
            for j in range(lo, hi):
                ...

    _walk_kernel = _numba.kernel(_walk)   # lazy: nothing is compiled yet

    if _numba.available() and _numba.supports(tensor):
        # compiled now (or loaded from the on-disk cache); columns split between torch's threads
        _numba.run_chunks(lambda lo, hi: _walk_kernel(x_np, out_np, lo, hi), n, work_per_item=T)

API:
    ``available()``: numba imports and ``SPIKESTEP_DISABLE_NUMBA`` is not set to a true value. The
        environment variable is read at every call (cheap), so tests may set and unset it.
    ``supports(tensor)``: a CPU tensor of float32/float64 (the dtypes kernels are compiled for).
        float16/bfloat16 and non-CPU tensors take the pure PyTorch path.
    ``kernel(fn, parallel=False, depends_on=(), namespace=None)``: a lazily compiled ``numba.njit``
        version of ``fn``; compiled on its first call (JIT, no compile step at install) and cached on
        disk in :func:`cache_dir` (never inside the package). ``depends_on`` names the files whose
        changes must recompile it (numba itself only watches ``fn``'s own file).
    ``jitable(fn)``: marks a plain Python function (e.g. one step of a recurrence) as callable from
        kernels too; it stays an ordinary function for torch code.
    ``namespace()``: the elementwise dialect's names (:mod:`.elementwise`) as numba compiles them.
    ``run_chunks(fn, n, work_per_item)``: calls ``fn(lo, hi)`` on contiguous chunks of ``range(n)`` on
        up to ``torch.get_num_threads()`` threads (one chunk when the work is small) and returns the results
        in order. With serial kernels compiled ``nogil=True`` this is the preferred way to go parallel: the
        kernels compile several times faster than ``parallel=True`` ones (which matters for first use and
        for the test suite), and the thread count follows torch's setting without numba's thread pool.
    ``threads()``: a context manager that runs numba's own parallel loops (``parallel=True`` kernels) on
        ``torch.get_num_threads()`` threads, so numba and torch do not oversubscribe the cores.
    ``prange``: ``numba.prange`` inside compiled kernels (``range`` for plain Python).
    ``columns_of(a, lo, hi)``, ``column(a, i)``: inside kernels, a per-column coefficient that is either
        an ``[N]`` array or one scalar for every column (numba compiles a version for each).
    ``wide_vectors()``: as a kernel's first statement, its loops use 512-bit vectors on AVX-512 CPUs
        (same results; faster only for some loops, so measure before adding it).
    ``DISABLE_ENV``: the environment variable's name.

Traps this module helps kernels avoid:
    * numba types a Python float literal (``1.0``) as float64 and promotes float32 arithmetic with it
      to float64 (slower, and no longer float32 rounding). Kernels take typed constants as arguments
      instead, e.g. ``one = _numba.one_like(array)``.
    * fastmath is off: kernels must agree with the pure PyTorch path to float32 rounding, and
      reassociation would break that.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from . import elementwise as _elementwise
from . import omp_team as _omp_team

try:  # numpy comes with numba; spikestep itself needs only torch
    import numpy as np
except ImportError:  # pragma: no cover - the torch-only install test runs this
    np = None  # type: ignore[assignment]

DISABLE_ENV = "SPIKESTEP_DISABLE_NUMBA"

_SUPPORTED_DTYPES = (torch.float32, torch.float64)
_import_lock = threading.Lock()
_numba_module: Any = None
_import_error: BaseException | None = None


def _disabled_by_env() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def _import_numba() -> Any:
    """Import numba once; return the module or ``None`` (the error is kept in ``_import_error``)."""
    global _numba_module, _import_error
    if _numba_module is not None or _import_error is not None:
        return _numba_module
    with _import_lock:
        if _numba_module is None and _import_error is None:
            try:
                import numba  # lazy on purpose: numba is optional and slow to import

                _numba_module = numba
            except Exception as error:  # ImportError, or a broken install (llvmlite mismatch, ...)
                _import_error = error
    return _numba_module


def available() -> bool:
    """Whether compiled numba kernels may be used now.

    False when ``SPIKESTEP_DISABLE_NUMBA`` is set to a true value (``1``, ``true``, ...) or numba does not
    import. Imports numba on the first call that is not disabled.
    """
    if _disabled_by_env():
        return False
    return _import_numba() is not None


def unavailable_reason() -> str:
    """Why :func:`available` is False (an empty string when it is True), for error messages."""
    if _disabled_by_env():
        return f"numba is disabled by the environment variable {DISABLE_ENV}={os.environ[DISABLE_ENV]!r}"
    if _import_numba() is None:
        return f"numba is not importable ({_import_error!r}); install it with: pip install 'spikestep[fast]'"
    return ""


def supports(tensor: torch.Tensor) -> bool:
    """Whether compiled kernels handle this tensor: on the CPU, float32 or float64."""
    return tensor.device.type == "cpu" and tensor.dtype in _SUPPORTED_DTYPES


def one_like(array: np.ndarray) -> np.generic:
    """``1`` typed as ``array``'s dtype, to pass to a kernel instead of a float64 literal."""
    return array.dtype.type(1)


def _prange(*args: int) -> range:
    return range(*args)


# The LLVM function attribute that :func:`wide_vectors` sets. For an AVX-512 CPU LLVM vectorises 256
# bits wide unless a function asks for more (512-bit instructions lower the clock of some older cores);
# other targets ignore the attribute.
WIDE_VECTORS_ATTRIBUTE = '"prefer-vector-width"="512"'


def wide_vectors() -> None:
    """Called inside a kernel (or a jitable), anywhere in its body, by convention first: ask LLVM to
    compile that function's loops with the CPU's widest vectors, 512 bits on AVX-512, instead of
    LLVM's 256 there. A preference, not a guarantee (LLVM may still choose narrower vectors), and it
    marks the calling function only: loops that numba outlines for ``prange`` are not marked. A no-op
    for Python callers.

    The results are bit-identical: kernels never reassociate (fastmath is off), so the vector width
    changes the speed only. It pays where a loop is bound by loads and arithmetic in cache, not
    everywhere: measured on the 2-core AVX-512 VM (one thread, interleaved rounds), the 2-tap
    delayed-linear gather went from 35.8 to 25.6 ms and its dot products from 50.4 to 43.2 ms, while a
    LIF neuron's forward walk went from 7.0 to 11.0 ms (its backward no faster) and a SynapseFilter
    forward+backward from 12 to 19 ms (T=64, N=1e5, 2 threads), so only the delayed-linear kernels ask
    for it.
    """


def _register_wide_vectors(numba: Any) -> None:
    """Give :func:`wide_vectors` its meaning inside kernels: numba inlines it where it is called, and its
    body is an intrinsic that emits no code and marks the function being compiled (the caller, since
    the call was inlined) with :data:`WIDE_VECTORS_ATTRIBUTE`."""
    global _wide_vectors_registered
    import numba.extending

    @numba.extending.intrinsic
    def mark_function(typing_context: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            # llvmlite's attribute set accepts only attributes without values: set.add is the set's own
            # add, without that check (the attribute is written out as it is). Should a later llvmlite
            # store attributes otherwise, the function keeps LLVM's default width: same bits, slower.
            with contextlib.suppress(TypeError, AttributeError):
                set.add(builder.function.attributes, WIDE_VECTORS_ATTRIBUTE)
            return context.get_dummy_value()

        return numba.core.types.none(), codegen

    @numba.extending.overload(wide_vectors, inline="always")
    def _wide_vectors() -> Any:
        def impl() -> None:
            mark_function()

        return impl

    _wide_vectors_registered = True


def __getattr__(name: str) -> Any:
    # ``prange`` is numba's when numba imports (so compiled kernels parallelise), else ``range``.
    if name == "prange":
        numba = _import_numba()
        return numba.prange if numba is not None else _prange
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_jitables: list[Callable[..., Any]] = []
_jitables_registered = 0
_wide_vectors_registered = False
_columns_registered = False


def jitable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``fn`` as callable from compiled kernels; returns ``fn`` itself, unchanged for Python callers.

    Registered with ``numba.extending.register_jitable`` only when the first kernel is compiled, so
    writing one definition that serves both torch tensors and numba scalars costs no numba import.
    """
    _jitables.append(fn)
    return fn


@jitable
def scalar_where(cond: Any, a: Any, b: Any) -> Any:
    """The elementwise dialect's ``where`` for scalars: the default meaning of ``where`` in modules of
    scalar pieces that numba compiles as they are (torch and Triton rebind the name)."""
    return a if cond else b


def columns_of(a: Any, lo: int, hi: int) -> Any:
    """Inside a kernel: columns ``lo:hi`` of a per-column coefficient, ``a[lo:hi]`` for an ``[N]`` array
    and ``a`` itself for a scalar (one value for every column). numba picks the meaning from ``a``'s
    type when it compiles, so one kernel source serves both and the scalar version's loops read no
    array for it."""
    return a if np.ndim(a) == 0 else a[lo:hi]


def column(a: Any, i: int) -> Any:
    """Inside a kernel: the value of column ``i`` of what :func:`columns_of` gave (``a[i]``, or the
    scalar ``a``)."""
    return a if np.ndim(a) == 0 else a[i]


def _register_columns(numba: Any) -> None:
    """Give :func:`columns_of` and :func:`column` their compile-time meaning: an array is sliced and
    indexed, anything else (a scalar) is passed through."""
    global _columns_registered
    import numba.extending

    array = numba.core.types.Array

    # numba checks that an implementation's parameters, annotations included, match the typing
    # function's: all are annotated ``Any``.
    def sliced(a: Any, lo: Any, hi: Any) -> Any:
        return a[lo:hi]

    def indexed(a: Any, i: Any) -> Any:
        return a[i]

    def scalar_span(a: Any, lo: Any, hi: Any) -> Any:
        return a

    def scalar_at(a: Any, i: Any) -> Any:
        return a

    @numba.extending.overload(columns_of, inline="always")
    def _columns_of(a: Any, lo: Any, hi: Any) -> Any:
        return sliced if isinstance(a, array) else scalar_span

    @numba.extending.overload(column, inline="always")
    def _column(a: Any, i: Any) -> Any:
        return indexed if isinstance(a, array) else scalar_at

    _columns_registered = True


def _register_jitables(numba: Any) -> None:
    global _jitables_registered
    with _import_lock:
        import numba.extending  # the submodule is not imported by ``import numba`` alone

        if not _wide_vectors_registered:
            _register_wide_vectors(numba)
        if not _columns_registered:
            _register_columns(numba)
        for fn in _jitables[_jitables_registered:]:
            numba.extending.register_jitable(fn)
        _jitables_registered = len(_jitables)


def cache_dir() -> str:
    """Where compiled kernels are cached on disk: ``NUMBA_CACHE_DIR`` when the user set it, else a
    per-user folder (``$XDG_CACHE_HOME/spikestep/numba``, by default ``~/.cache/spikestep/numba``).

    Never inside the installed package: numba's own default writes a ``__pycache__`` folder next to the
    source, which outlives an uninstall and then shadows the package's modules (an empty folder that
    Python imports as a namespace package)."""
    user_choice = os.environ.get("NUMBA_CACHE_DIR", "")
    if user_choice:
        return user_choice
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "spikestep", "numba")


def _enable_cache(dispatcher: Any, numba: Any) -> None:
    """Point ``dispatcher``'s disk cache at :func:`cache_dir`. numba's locator reads its folder once,
    when the cache is made, so the setting is changed only for that moment (the user's own numba
    functions keep numba's defaults)."""
    config = numba.core.config
    with _import_lock:
        previous = config.CACHE_DIR
        config.CACHE_DIR = cache_dir()
        try:
            dispatcher.enable_caching()
        finally:
            config.CACHE_DIR = previous


def register_jitable(fn: Callable[..., Any]) -> Any:
    """``numba.extending.register_jitable(fn)``: ``fn`` callable from kernels (imports numba)."""
    numba = _import_numba()
    if numba is None:
        raise RuntimeError(unavailable_reason())
    import numba.extending

    return numba.extending.register_jitable(fn)


def _div(a: Any, b: Any) -> Any:
    # np.true_divide, not ``/``: numba checks ``/`` for a zero divisor (Python's ZeroDivisionError), a
    # branch that keeps loops from vectorising; the quotient is the same IEEE division.
    return np.true_divide(a, b)


_namespace: dict[str, Any] | None = None


def namespace() -> dict[str, Any]:
    """The meaning of :mod:`.elementwise`'s names inside numba kernels (imports numba and numpy)."""
    global _namespace
    if _namespace is None:
        import math

        _namespace = {
            "div": register_jitable(_div),
            "exp": math.exp,
            "absolute": abs,
            "where": scalar_where,
        }
    return _namespace


def in_dialect(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (written in the elementwise dialect) with the dialect's names as numba compiles them."""
    return _elementwise.rebind(fn, namespace())


def _source_digest(objects: tuple[Any, ...]) -> str:
    digest = hashlib.sha256()
    for obj in objects:
        path = inspect.getsourcefile(obj)
        if path is not None:
            with open(path, "rb") as source:
                digest.update(source.read())
    return digest.hexdigest()[:12]


class _LazyKernel:
    """``fn`` compiled by numba on its first call (once per argument types), cached on disk."""

    def __init__(
        self,
        fn: Callable[..., Any],
        parallel: bool,
        depends_on: tuple[Any, ...],
        namespace: dict[str, Any] | None,
        tag: str,
    ) -> None:
        self._fn = fn
        self._tag = tag
        self._parallel = parallel
        self._depends_on = depends_on
        self._namespace = namespace
        self._compiled: Any = None
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any) -> Any:
        if self._compiled is None:
            self._compiled = self._compile()
        return self._compiled(*args)

    def _compile(self) -> Any:
        numba = _import_numba()
        if numba is None:
            raise RuntimeError(f"{self._fn.__name__}: {unavailable_reason()}")
        _register_jitables(numba)
        names = dict(namespace())
        names.update(self._namespace or {})
        # numba files cache entries under the function's name and checks only its own file's age: the
        # name carries a digest of the files it depends on (the recurrence's pieces, a surrogate), so a
        # change there compiles afresh instead of loading a stale kernel.
        digest = _source_digest((self._fn, *self._depends_on))
        tag = f"{self._tag}_" if self._tag else ""
        fn = _elementwise.rebind(self._fn, names, f"{self._fn.__qualname__}__{tag}{digest}")
        compiled = numba.njit(cache=False, parallel=self._parallel, fastmath=False, nogil=True)(fn)
        _enable_cache(compiled, numba)
        return compiled


def kernel(
    fn: Callable[..., Any],
    parallel: bool = False,
    depends_on: tuple[Any, ...] = (),
    namespace: dict[str, Any] | None = None,
    tag: str = "",
) -> Callable[..., Any]:
    """Return ``fn`` compiled lazily by ``numba.njit(parallel=parallel, nogil=True)``, cached on disk in
    :func:`cache_dir`.

    ``fn`` sees the elementwise dialect's names (:mod:`.elementwise`) and ``namespace``'s (for example
    the surrogate gradient a neuron kernel calls, as a global name); ``tag`` names that variant (numba's
    disk cache files entries by name, so each variant needs its own). ``depends_on``: functions or modules
    whose source, when it changes, must invalidate the disk cache (the jitables ``fn`` calls, the
    namespace's functions). Call the result only when :func:`available` is True; inside, use ``prange``
    for the loop to run in parallel (over blocks of data, never over time).
    """
    return _LazyKernel(fn, parallel, tuple(depends_on), namespace, tag)


# Work (items x work_per_item) below which one thread is faster than handing chunks to others.
_MIN_WORK_PER_THREAD = 1 << 16
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0


def _get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _import_lock:
        # A forked child (e.g. a DataLoader worker) inherits the pool but not its threads: make a new one.
        if _pool is None or _pool_pid != os.getpid():
            workers = max(1, (os.cpu_count() or 1) - 1)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spikestep")
            _pool_pid = os.getpid()
    return _pool


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def run_chunks(
    fn: Callable[[int, int], Any], n: int, work_per_item: int = 1, align: int = 64, threads: int | None = None
) -> list[Any]:
    """Call ``fn(lo, hi)`` on contiguous chunks covering ``range(n)``, in parallel; return the results in
    the order of the chunks.

    Uses at most ``threads`` (default ``torch.get_num_threads()``) threads, the caller's included, and
    only as many as give each at least ~65k units of work (``(hi - lo) * work_per_item``). The range is cut
    into a few chunks per thread, which the threads take in turn: on a shared machine a thread that is
    descheduled for a while does not hold the others up. Chunk borders are multiples of ``align`` (each
    thread writes its own cache lines). ``fn`` should release the GIL (kernels compiled by :func:`kernel`
    do: ``nogil=True``), or the threads take turns.

    The threads are torch's own OpenMP threads where they can be found (:mod:`.omp_team`, which says
    what that bought), else, or with ``SPIKESTEP_OMP_TEAM=0``, a pool of this module's.
    """
    wanted = threads if threads is not None else torch.get_num_threads()
    n_threads = max(1, min(wanted, (n * max(1, work_per_item)) // _MIN_WORK_PER_THREAD, _ceil_div(n, align)))
    if n_threads == 1:
        return [fn(0, n)]
    # The same number of chunks for every thread (up to 4 each): 5 chunks on 2 threads left one thread
    # 3 of them, 60% of the work instead of half.
    per_thread = min(4, (n * max(1, work_per_item)) // (_MIN_WORK_PER_THREAD * n_threads))
    n_chunks = n_threads * max(1, per_thread)
    step = _ceil_div(_ceil_div(n, n_chunks), align) * align
    bounds = [(lo, min(lo + step, n)) for lo in range(0, n, step)]
    results: list[Any] = [None] * len(bounds)
    next_chunk = itertools.count()  # next() on a count is atomic under the GIL: each chunk is taken once

    def work() -> None:
        for i in iter(next_chunk.__next__, None):
            if i >= len(bounds):
                return
            results[i] = fn(*bounds[i])

    team = _omp_team.team()
    if team is not None:
        errors: list[BaseException] = []

        def work_or_keep_error() -> None:
            try:
                work()
            except BaseException as error:  # re-raised below: a callback cannot raise into ctypes
                errors.append(error)

        team.run(work_or_keep_error, n_threads)
        if errors:
            raise errors[0]
        return results
    futures = [_get_pool().submit(work) for _ in range(n_threads - 1)]
    work()  # the calling thread takes chunks too
    for future in futures:
        future.result()
    return results


@contextlib.contextmanager
def threads(n: int | None = None) -> Iterator[None]:
    """Run numba's parallel loops on ``n`` threads (default: ``torch.get_num_threads()``).

    numba keeps its own thread pool, sized to all cores. Matching torch's setting keeps the two from
    oversubscribing the cores (and respects a user's ``torch.set_num_threads``). The setting is local to
    the calling thread and restored on exit.
    """
    numba = _import_numba()
    if numba is None:
        raise RuntimeError(unavailable_reason())
    wanted = max(1, min(n if n is not None else torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    previous = numba.get_num_threads()
    if wanted != previous:
        numba.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != previous:
            numba.set_num_threads(previous)
