"""Settings precedence: a flag beats its env var, the env var beats the documented default."""

from __future__ import annotations

import argparse

import pytest

from ray_operator.settings import Settings, add_run_arguments, env_var, settings_from


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_apply_when_nothing_is_given() -> None:
    assert settings_from(_parse([]), environ={}) == Settings()


def test_env_var_overrides_default_and_is_typed() -> None:
    environ = {env_var("webhook_port"): "10443", env_var("leader_election"): "false"}
    settings = settings_from(_parse([]), environ=environ)
    assert settings.webhook_port == 10443
    assert settings.leader_election is False


def test_flag_overrides_env_var() -> None:
    settings = settings_from(
        _parse(["--webhook-port", "9000", "--mode", "webhook"]),
        environ={env_var("webhook_port"): "10443", env_var("mode"): "controller"},
    )
    assert settings.webhook_port == 9000
    assert settings.mode == "webhook"


def test_boolean_flag_can_switch_a_default_off() -> None:
    assert settings_from(_parse(["--no-leader-election"]), environ={}).leader_election is False


def test_bad_number_in_env_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"^--probe-port \(RAY_OPERATOR_PROBE_PORT\) must be an integer: .*'eighty'"):
        settings_from(_parse([]), environ={env_var("probe_port"): "eighty"})


def test_bad_flag_value_names_the_flag_and_the_expected_type() -> None:
    with pytest.raises(
        ValueError, match=r"^--shutdown-delay-seconds \(RAY_OPERATOR_SHUTDOWN_DELAY_SECONDS\) must be a number"
    ):
        settings_from(_parse(["--shutdown-delay-seconds", "soon"]), environ={})
    with pytest.raises(ValueError, match=r"^--leader-election \(RAY_OPERATOR_LEADER_ELECTION\) must be a boolean"):
        settings_from(_parse([]), environ={env_var("leader_election"): "maybe"})


def test_every_setting_has_an_env_var_named_after_it() -> None:
    assert env_var("cert_secret_name") == "RAY_OPERATOR_CERT_SECRET_NAME"


def test_unknown_mode_names_the_flag_and_the_choices() -> None:
    with pytest.raises(ValueError, match=r"--mode \(RAY_OPERATOR_MODE\) must be one of 'all', 'webhook', 'controller'"):
        settings_from(_parse(["--mode", "everything"]), environ={})
