"""The ``ray-operator`` command: one entry point for the operator, its CRD and its sandbox.

Subcommands import their implementation lazily so ``ray-operator crd`` stays fast and does not
pull in aiohttp or the Kubernetes client. argparse is used instead of a CLI framework to keep the
runtime dependencies to the ones the field already needs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_crd(args: argparse.Namespace) -> int:
    from ray_operator.api.crd import render_crd_yaml

    sys.stdout.write(render_crd_yaml())
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    if args.api_only:
        from ray_operator.sandbox.server.main import run_sandbox_command

        return run_sandbox_command(args)
    # The emulator together with the operator lives at the root: the sandbox package must not
    # import the operator (docs/architecture.md, layering).
    from ray_operator.devstack import run_devstack_command

    return run_devstack_command(args)


def _cmd_run(args: argparse.Namespace) -> int:
    from ray_operator.runtime import run_command

    return run_command(args)


def build_parser() -> argparse.ArgumentParser:
    from ray_operator import __version__

    parser = argparse.ArgumentParser(
        prog="ray-operator",
        description="Kubernetes operator for Ray clusters (ray.io/v1 RayCluster).",
    )
    parser.add_argument("--version", action="version", version=f"ray-operator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    crd = sub.add_parser("crd", help="print the RayCluster CustomResourceDefinition (YAML)")
    crd.set_defaults(func=_cmd_crd)

    sandbox = sub.add_parser(
        "sandbox",
        help="start the local Kubernetes API-server emulator (and the operator) and write a kubeconfig",
    )
    from ray_operator.sandbox_args import add_sandbox_arguments

    add_sandbox_arguments(sandbox)
    sandbox.set_defaults(func=_cmd_sandbox)

    run = sub.add_parser(
        "run",
        help="run the operator against a cluster",
        description="Run the operator against a cluster. Every flag can also be set by its env var; a flag wins.",
    )
    from ray_operator.settings import add_run_arguments

    add_run_arguments(run)
    run.set_defaults(func=_cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
