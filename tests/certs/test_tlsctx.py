"""The live SSLContext: reloads reach new handshakes of a running server, bad pairs change nothing."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from datetime import UTC, datetime, timedelta

import pytest

from certs import generate as g
from certs.tlsctx import check_pair, client_context, handshake_ok, load_into, new_server_context
from tests.certs.tlshelpers import https_server, peer_certificate

NAMES = g.serving_names(service="svc", namespace="ns")


def _issue(ca: g.Issued | None = None) -> tuple[g.Issued, g.Issued]:
    now = datetime.now(UTC)
    ca = ca or g.generate_ca(now=now, validity=timedelta(days=30), algorithm="ecdsa-p256")
    return ca, g.generate_serving(ca=ca, names=NAMES, now=now, validity=timedelta(days=1), algorithm="ecdsa-p256")


async def test_reload_reaches_new_handshakes_without_restart() -> None:
    ca, first = _issue()
    context = new_server_context()
    load_into(context, cert_pem=first.cert_pem, key_pem=first.key_pem)
    async with https_server(context) as port:
        assert (await peer_certificate(port, cafile_pem=ca.cert_pem, server_hostname=NAMES[2])).serial_number == (
            first.cert.serial_number
        )
        # A connection opened before the reload stays usable afterwards.
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(ca.cert_pem), server_hostname=NAMES[2]
        )
        _, second = _issue(ca)
        load_into(context, cert_pem=second.cert_pem, key_pem=second.key_pem)
        served = await peer_certificate(port, cafile_pem=ca.cert_pem, server_hostname=NAMES[2])
        assert served.serial_number == second.cert.serial_number != first.cert.serial_number
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 10)).startswith(b"HTTP/1.1 200")
        writer.close()

        # A new CA too: clients trusting only the new CA now verify.
        new_ca, third = _issue()
        load_into(context, cert_pem=third.cert_pem, key_pem=third.key_pem)
        served = await peer_certificate(port, cafile_pem=new_ca.cert_pem, server_hostname=NAMES[3])
        assert served.serial_number == third.cert.serial_number


async def test_mismatched_pair_is_refused_and_context_keeps_serving() -> None:
    ca, first = _issue()
    _, other = _issue(ca)
    context = new_server_context()
    load_into(context, cert_pem=first.cert_pem, key_pem=first.key_pem)
    with pytest.raises(ValueError, match=r"tls\.key does not match"):
        load_into(context, cert_pem=other.cert_pem, key_pem=first.key_pem)
    with pytest.raises(ValueError, match=r"tls\.crt"):
        load_into(context, cert_pem=b"garbage", key_pem=first.key_pem)
    with pytest.raises(ValueError, match=r"tls\.key"):
        load_into(context, cert_pem=first.cert_pem, key_pem=b"garbage")
    async with https_server(context) as port:
        served = await peer_certificate(port, cafile_pem=ca.cert_pem, server_hostname=NAMES[0])
        assert served.serial_number == first.cert.serial_number


def test_check_pair_accepts_a_chain_with_the_leaf_first() -> None:
    ca, leaf = _issue()
    check_pair(cert_pem=leaf.cert_pem + ca.cert_pem, key_pem=leaf.key_pem)
    with pytest.raises(ValueError):
        check_pair(cert_pem=ca.cert_pem + leaf.cert_pem, key_pem=leaf.key_pem)


def test_no_key_file_is_left_behind(tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    _, leaf = _issue()
    load_into(new_server_context(), cert_pem=leaf.cert_pem, key_pem=leaf.key_pem)
    assert os.listdir(tmp_path) == []


async def test_handshake_ok() -> None:
    ca, leaf = _issue()
    context = new_server_context()
    load_into(context, cert_pem=leaf.cert_pem, key_pem=leaf.key_pem)
    async with https_server(context) as port:
        assert await handshake_ok("127.0.0.1", port, NAMES[2], ca.cert_pem)
        assert await handshake_ok("127.0.0.1", port, NAMES[2], ca.cert_pem.decode())  # text PEM too
        assert await handshake_ok("127.0.0.1", port, None, None)
        assert not await handshake_ok("127.0.0.1", port, "wrong.name", ca.cert_pem)
        stranger, _ = _issue()
        assert not await handshake_ok("127.0.0.1", port, NAMES[2], stranger.cert_pem)
        assert not await handshake_ok("127.0.0.1", port, NAMES[2], b"not a pem")
    # Nothing listening.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert not await handshake_ok("127.0.0.1", free, None, None, within_seconds=2)


async def test_handshake_fails_while_context_has_no_certificate() -> None:
    async with https_server(new_server_context()) as port:
        assert not await handshake_ok("127.0.0.1", port, None, None, within_seconds=2)


async def test_tls_versions_offered() -> None:
    ca, leaf = _issue()
    context = new_server_context()
    load_into(context, cert_pem=leaf.cert_pem, key_pem=leaf.key_pem)
    async with https_server(context) as port:
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            client = client_context(ca.cert_pem)
            client.minimum_version = client.maximum_version = version
            _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname=NAMES[2])
            assert writer.get_extra_info("ssl_object").version() == version.name.replace("v1_", "v1.")
            writer.close()
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
