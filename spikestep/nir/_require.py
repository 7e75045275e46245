"""The optional ``nir`` package, imported only when a network is exported or loaded."""

from __future__ import annotations

from types import ModuleType

INSTALL_HINT = 'spikestep.nir needs the nir package: pip install "spikestep[nir]" (or pip install "nir>=1.0")'


def require_nir() -> ModuleType:
    """The ``nir`` module, or an ``ImportError`` that says how to install it.

    A folder named ``nir`` on ``sys.path`` (a test folder, say) imports as an empty namespace package when
    the real one is missing: that is refused too, so the message is the same.
    """
    try:
        import nir
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    if not hasattr(nir, "NIRGraph"):
        raise ImportError(f"{INSTALL_HINT} (the nir found is {nir!r}, not the package)")
    return nir
