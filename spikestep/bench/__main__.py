"""``python -m spikestep.bench``."""

from .cli import main

raise SystemExit(main())
