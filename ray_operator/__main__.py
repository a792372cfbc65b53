"""Allows ``python -m ray_operator`` wherever the console script is not on PATH."""

from ray_operator.cli import main

raise SystemExit(main())
