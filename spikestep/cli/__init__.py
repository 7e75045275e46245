"""The ``spikestep`` command."""


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("spikestep: the command is not built yet")
