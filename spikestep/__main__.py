"""``python -m spikestep`` runs the ``spikestep`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
