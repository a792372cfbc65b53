"""Protobuf bodies as kubectl 1.37's typed generators send them (bytes captured from a real kubectl)."""

from __future__ import annotations

import pytest

from ray_operator.sandbox import errors
from ray_operator.sandbox.server import protobuf

CONFIGMAP = (
    b'k8s\x00\n\x0f\n\x02v1\x12\tConfigMap\x12$\n\x12\n\x02cm\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00'
    b'\x12\x06\n\x01a\x12\x01b\x12\x06\n\x01c\x12\x01d\x1a\x00"\x00'
)
SECRET = (
    b'k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12#\n\x11\n\x01s\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00'
    b'\x12\x06\n\x01k\x12\x01v\x1a\x06Opaque\x1a\x00"\x00'
)


def test_configmap_and_secret_decode() -> None:
    assert protobuf.decode(CONFIGMAP) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm"},
        "data": {"a": "b", "c": "d"},
    }
    assert protobuf.decode(SECRET) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"k": "dg=="},
        "type": "Opaque",
    }


def test_malformed_and_unknown_bodies() -> None:
    with pytest.raises(errors.ApiError) as info:
        protobuf.decode(CONFIGMAP[:20])
    assert info.value.code == 400
    with pytest.raises(errors.ApiError) as info:
        protobuf.decode(b"{}")
    assert info.value.code == 400
    unknown = CONFIGMAP.replace(b"\x0f\n\x02v1\x12\tConfigMap", b"\x0f\n\x02v1\x12\tConfigMop")
    with pytest.raises(errors.ApiError) as info:
        protobuf.decode(unknown)
    assert info.value.code == 415
