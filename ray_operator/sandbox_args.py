"""Flags of ``ray-operator sandbox``, kept apart from the sandbox so ``--help`` imports nothing heavy."""

from __future__ import annotations

import argparse


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        default="sandbox.kubeconfig",
        help="write a kubeconfig for the sandbox here once it accepts requests (default ./sandbox.kubeconfig)",
    )
    parser.add_argument("--port", type=int, default=0, help="HTTPS port of the API server (default: a free port)")
    parser.add_argument(
        "--api-only", action="store_true", help="serve only the API-server emulator, without the operator"
    )
    parser.add_argument(
        "--mode",
        choices=["all", "webhook", "controller"],
        default="all",
        help="operator parts run beside the emulator: all (default: webhooks and reconciler), webhook, controller",
    )
    parser.add_argument(
        "--no-kubelet", action="store_true", help="do not run the fake kubelet that moves pods to Running"
    )
    parser.add_argument(
        "--apply",
        nargs="+",
        metavar="FILE",
        default=[],
        help="once the operator is ready, create the objects in these YAML files and show a live progress view",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help="run N operator processes (one leads via the Lease); watch failover with kubectl get lease -w (default 1)",
    )
    parser.add_argument(
        "--runtime",
        choices=["fake", "process"],
        default="fake",
        help="what runs the pods: fake (default: pods only report Running) or process (real local processes, one "
        "network namespace per pod, so Ray really runs; needs root on Linux)",
    )
