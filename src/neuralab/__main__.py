"""``python -m neuralab`` is the same as the ``neuralab`` console script."""

from neuralab.cli import main

raise SystemExit(main())
