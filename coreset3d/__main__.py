"""``python -m coreset3d``: the same as the ``coreset3d`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
