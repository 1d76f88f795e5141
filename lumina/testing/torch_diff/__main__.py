"""``python -m lumina.testing.torch_diff``: see ``cli.main``."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
