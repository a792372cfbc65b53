"""Decode the few Kubernetes protobuf request bodies kubectl's typed generators send.

``kubectl create namespace|configmap|secret|serviceaccount`` and ``kubectl auth can-i|whoami`` post
``application/vnd.kubernetes.protobuf`` (the ``k8s\\0`` magic, then a ``runtime.Unknown`` envelope around
the object), with no JSON fallback, so
the emulator must read them to be usable by hand. Only these kinds are decoded, with the field numbers of
the upstream ``generated.proto`` files; anything else stays a 415 naming the JSON media types. Responses
are always JSON, which clients accept. A general protobuf library with the Kubernetes descriptors was
decided against: it would be a large dependency for six message types.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

from ray_operator.sandbox import errors

MAGIC = b"k8s\x00"
Field = tuple[int, int, Any]
"""(field number, wire type, value): value is an int for varints, bytes for length-delimited fields."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> Iterator[Field]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8")


def _map_entry(value: bytes) -> tuple[str, bytes]:
    key, raw = "", b""
    for number, _, item in fields(value):
        if number == 1:
            key = _text(item)
        elif number == 2:
            raw = bytes(item)
    return key, raw


def _object_meta(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    names = {1: "name", 2: "generateName", 3: "namespace", 6: "resourceVersion"}
    for number, _, value in fields(data):
        if number in names and value:
            meta[names[number]] = _text(value)
        elif number in (11, 12):
            key, raw = _map_entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = raw.decode()
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(value))
    return meta


def _namespace(data: bytes, obj: dict[str, Any]) -> None:
    for number, _, value in fields(data):
        if number == 2:
            finalizers = [_text(v) for n, _, v in fields(value) if n == 1]
            if finalizers:
                obj["spec"] = {"finalizers": finalizers}


def _configmap(data: bytes, obj: dict[str, Any]) -> None:
    for number, _, value in fields(data):
        if number == 2:
            key, raw = _map_entry(value)
            obj.setdefault("data", {})[key] = raw.decode()
        elif number == 3:
            key, raw = _map_entry(value)
            obj.setdefault("binaryData", {})[key] = base64.b64encode(raw).decode()
        elif number == 4:
            obj["immutable"] = bool(value)


def _secret(data: bytes, obj: dict[str, Any]) -> None:
    for number, _, value in fields(data):
        if number == 2:
            key, raw = _map_entry(value)
            obj.setdefault("data", {})[key] = base64.b64encode(raw).decode()
        elif number == 3 and value:
            obj["type"] = _text(value)
        elif number == 4:
            key, raw = _map_entry(value)
            obj.setdefault("stringData", {})[key] = raw.decode()
        elif number == 5:
            obj["immutable"] = bool(value)


def _service_account(data: bytes, obj: dict[str, Any]) -> None:
    for number, _, value in fields(data):
        if number == 3:
            name = next((_text(v) for n, _, v in fields(value) if n == 1), "")
            obj.setdefault("imagePullSecrets", []).append({"name": name})
        elif number == 4:
            obj["automountServiceAccountToken"] = bool(value)


def _access_review(data: bytes, obj: dict[str, Any]) -> None:
    names = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}
    for number, _, value in fields(data):
        if number != 2:
            continue
        spec: dict[str, Any] = {}
        for n, _, v in fields(value):
            if n == 1:
                spec["resourceAttributes"] = {names[k]: _text(x) for k, _, x in fields(v) if k in names and x}
            elif n == 2:
                spec["nonResourceAttributes"] = {
                    {1: "path", 2: "verb"}[k]: _text(x) for k, _, x in fields(v) if k in (1, 2) and x
                }
        obj["spec"] = spec


def _rules_review(data: bytes, obj: dict[str, Any]) -> None:
    """``SelfSubjectRulesReview`` (``kubectl auth can-i --list``): spec 2, its namespace 1."""
    for number, _, value in fields(data):
        if number == 2:
            namespaces = [_text(v) for n, _, v in fields(value) if n == 1]
            obj["spec"] = {"namespace": namespaces[-1]} if namespaces else {}


def _token_request(data: bytes, obj: dict[str, Any]) -> None:
    """``TokenRequest`` (``kubectl create token``): audiences 1, boundObjectRef 3, expirationSeconds 4."""
    for number, _, value in fields(data):
        if number != 2:
            continue
        spec: dict[str, Any] = {}
        for n, _, v in fields(value):
            if n == 1:
                spec.setdefault("audiences", []).append(_text(v))
            elif n == 3:
                names = {1: "kind", 2: "apiVersion", 3: "name", 4: "uid"}
                spec["boundObjectRef"] = {names[k]: _text(x) for k, _, x in fields(v) if k in names and x}
            elif n == 4:
                spec["expirationSeconds"] = int(v)
        obj["spec"] = spec


_KINDS: dict[tuple[str, str], Callable[[bytes, dict[str, Any]], None]] = {
    ("v1", "Namespace"): _namespace,
    ("v1", "ConfigMap"): _configmap,
    ("v1", "Secret"): _secret,
    ("v1", "ServiceAccount"): _service_account,
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): _access_review,
    ("authentication.k8s.io/v1", "TokenRequest"): _token_request,
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): _rules_review,
    ("authentication.k8s.io/v1", "SelfSubjectReview"): lambda data, obj: None,
}


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object; 415 for kinds the emulator cannot read, 400 if malformed."""
    unsupported = errors.unsupported_media_type("application/json, application/yaml")
    if not body.startswith(MAGIC):
        raise errors.bad_request("the protobuf body does not start with the Kubernetes magic number")
    try:
        api_version = kind = ""
        raw = b""
        for number, _, value in fields(body[len(MAGIC) :]):
            if number == 1:
                for n, _, v in fields(value):
                    if n == 1:
                        api_version = _text(v)
                    elif n == 2:
                        kind = _text(v)
            elif number == 2:
                raw = bytes(value)
        decoder = _KINDS.get((api_version, kind))
        if decoder is None:
            raise unsupported
        obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {}}
        for number, _, value in fields(raw):
            if number == 1:
                obj["metadata"] = _object_meta(value)
        decoder(raw, obj)
        return obj
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"cannot decode the protobuf body: {exc}") from exc
