"""Settings precedence, ranges and ``--help``: every setting, not a sample of them.

A flag beats its env var, the env var beats the documented default; every setting has both, a
docstring that ``--help`` shows with its env var, default and allowed values, and a value outside its
range is a one-line error naming the flag and the env var however it arrives.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from ray_operator.settings import Kind, Settings, add_run_arguments, env_var, field_docs, kinds, settings_from

NAMES = [f.name for f in dataclasses.fields(Settings)]
DEFAULTS = {f.name: f.default for f in dataclasses.fields(Settings)}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return parser.parse_args(argv)


def _another_value(name: str, kind: Kind) -> tuple[str, Any]:
    """A valid value other than the default, as text and as the setting holds it."""
    default = DEFAULTS[name]
    if kind.scalar is bool:
        return ("false", False) if default else ("true", True)
    if kind.choices:
        choice = next(c for c in kind.choices if c != default)
        return choice, choice
    if kind.scalar is int:
        value = 1234 if name.endswith("_port") else default + 1
        return str(value), value
    if kind.scalar is float:
        return str(default + 1.5), default + 1.5
    return f"{name}-value", f"{name}-value"


def test_defaults_apply_when_nothing_is_given() -> None:
    assert settings_from(_parse([]), environ={}) == Settings()


@pytest.mark.parametrize("name", NAMES)
def test_every_setting_is_read_from_its_env_var(name: str) -> None:
    raw, expected = _another_value(name, kinds()[name])
    assert env_var(name) == "RAY_OPERATOR_" + name.upper()
    settings = settings_from(_parse([]), environ={env_var(name): raw})
    assert getattr(settings, name) == expected
    assert dataclasses.replace(settings, **{name: DEFAULTS[name]}) == Settings()  # and nothing else changed


@pytest.mark.parametrize("name", NAMES)
def test_every_setting_has_a_flag_that_beats_its_env_var(name: str) -> None:
    kind = kinds()[name]
    raw, expected = _another_value(name, kind)
    flag = "--" + name.replace("_", "-")
    argv = ([flag] if expected else ["--no-" + name.replace("_", "-")]) if kind.scalar is bool else [flag, raw]
    environ = {env_var(name): str(DEFAULTS[name])} if DEFAULTS[name] is not None else {}
    assert getattr(settings_from(_parse(argv), environ=environ), name) == expected


def test_bad_number_in_env_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"^--probe-port \(RAY_OPERATOR_PROBE_PORT\) must be an integer: .*'eighty'"):
        settings_from(_parse([]), environ={env_var("probe_port"): "eighty"})


def test_bad_flag_value_names_the_flag_and_the_expected_type() -> None:
    with pytest.raises(
        ValueError, match=r"^--shutdown-delay-seconds \(RAY_OPERATOR_SHUTDOWN_DELAY_SECONDS\) must be a number"
    ):
        settings_from(_parse(["--shutdown-delay-seconds", "soon"]), environ={})
    with pytest.raises(ValueError, match=r"^--leader-elect \(RAY_OPERATOR_LEADER_ELECT\) must be a boolean"):
        settings_from(_parse([]), environ={env_var("leader_elect"): "maybe"})


def test_unknown_mode_names_the_flag_and_the_choices() -> None:
    with pytest.raises(ValueError, match=r"--mode \(RAY_OPERATOR_MODE\) must be one of 'all', 'webhook', 'controller'"):
        settings_from(_parse(["--mode", "everything"]), environ={})


RANGED = [name for name in NAMES if kinds()[name].range is not None]


def _out_of_range(name: str) -> list[str]:
    bounds = kinds()[name].range
    assert bounds is not None
    values = []
    if bounds.low is not None:
        values.append(str(bounds.low if bounds.low_open else bounds.low - 1))
    if bounds.high is not None:
        values.append(str(bounds.high + 1))
    return values


def test_ports_durations_and_sizes_all_carry_a_range() -> None:
    for name in NAMES:
        if name.endswith(("_port", "_seconds", "_days", "_bytes")):
            assert name in RANGED, f"{name} has no range"
    assert kinds()["webhook_port"].range is not None and kinds()["webhook_port"].range.requirement() == (
        "between 0 and 65535"
    )


@pytest.mark.parametrize(("name", "raw"), [(name, raw) for name in RANGED for raw in _out_of_range(name)])
def test_a_value_out_of_range_is_one_line_naming_flag_and_env_var(name: str, raw: str) -> None:
    flag = "--" + name.replace("_", "-")
    for args, environ in ((_parse([flag, raw]), {}), (_parse([]), {env_var(name): raw})):
        with pytest.raises(ValueError) as caught:
            settings_from(args, environ=environ)
        message = str(caught.value)
        assert message.startswith(f"{flag} ({env_var(name)}) must be "), message
        assert "\n" not in message


def test_a_settings_built_in_code_is_range_checked_too() -> None:
    with pytest.raises(ValueError, match=r"^--metrics-port \(RAY_OPERATOR_METRICS_PORT\) must be between 0 and 65535"):
        Settings(metrics_port=-1)
    assert Settings(webhook_port=0, shutdown_delay_seconds=0.0).webhook_port == 0  # 0: a free port; no delay


def test_leader_election_timings_are_checked_like_client_go() -> None:
    with pytest.raises(ValueError, match=r"^--lease-duration-seconds .* greater than --renew-deadline-seconds"):
        Settings(lease_duration_seconds=10.0, renew_deadline_seconds=10.0)
    with pytest.raises(ValueError, match=r"^--renew-deadline-seconds .* greater than 1.2 times --retry-period-seconds"):
        Settings(renew_deadline_seconds=2.0, retry_period_seconds=2.0)
    assert not Settings(leader_elect=False, lease_duration_seconds=1.0).leader_elect  # unused: not checked


@pytest.mark.parametrize("name", NAMES)
def test_every_setting_has_a_docstring_that_states_something(name: str) -> None:
    assert len(field_docs().get(name, "")) > 20, f"document {name} in ray_operator/settings.py"


def _run_help() -> str:
    from ray_operator.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return " ".join(subparsers.choices["run"].format_help().split())


@pytest.mark.parametrize("name", NAMES)
def test_run_help_shows_description_env_var_default_and_allowed_values(name: str) -> None:
    text = _run_help()
    kind = kinds()[name]
    flag = "--" + name.replace("_", "-")
    options = text[text.index("options:") :]
    found = re.search(rf" {re.escape(flag)}[ ,]", options)  # a boolean reads "--flag [true|false]"
    assert found is not None, flag
    entry = options[found.start() :]
    assert " ".join(field_docs()[name].split()[:6]) in entry
    facts = entry[entry.index("[env") : entry.index("]", entry.index("[env")) + 1]
    assert f"env {env_var(name)};" in facts
    assert "default " in facts
    if kind.choices:
        assert "one of " + ", ".join(kind.choices) in facts
    if kind.range is not None:
        assert kind.range.requirement() in facts


def test_version_is_the_installed_distribution_version() -> None:
    exe = Path(sys.executable).parent / "ray-operator"
    done = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"ray-operator {metadata.version('ray-operator')}"


def test_run_refuses_an_out_of_range_flag_with_exit_2_and_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from ray_operator.cli import main

    assert main(["run", "--mode", "webhook", "--webhook-port", "70000"]) == 2
    err = capsys.readouterr().err
    assert err == ("ray-operator: --webhook-port (RAY_OPERATOR_WEBHOOK_PORT) must be between 0 and 65535, got 70000\n")


def test_boolean_flags_take_go_style_values_as_kubebuilder_manifests_write_them() -> None:
    assert settings_from(_parse(["--leader-elect=false"]), environ={}).leader_elect is False
    assert settings_from(_parse(["--leader-elect=true"]), environ={env_var("leader_elect"): "false"}).leader_elect
    assert settings_from(_parse(["--leader-elect"]), environ={env_var("leader_elect"): "false"}).leader_elect
    assert settings_from(_parse(["--no-leader-elect"]), environ={}).leader_elect is False
    with pytest.raises(ValueError, match=r"^--leader-elect \(RAY_OPERATOR_LEADER_ELECT\) must be a boolean"):
        settings_from(_parse(["--leader-elect=perhaps"]), environ={})


def test_watch_namespaces_is_the_same_setting_as_kuberays_watch_namespace() -> None:
    assert settings_from(_parse(["--watch-namespaces", "team-a,team-b"]), environ={}).watch_namespace == "team-a,team-b"
    assert settings_from(_parse(["--watch-namespace=team-c"]), environ={}).watch_namespace == "team-c"
