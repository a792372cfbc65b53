"""Files mode (cert-manager): serve mounted tls.crt/tls.key and hot-reload them, including the kubelet's ..data swap."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certs import generate as g
from certs.files import FileSource
from tests.certs.configs import cert_config
from tests.certs.fakeapi import RecordingLogger
from tests.certs.tlshelpers import https_server, peer_certificate

NAMES = g.serving_names(service="svc", namespace="ns")
NOW = datetime.now(UTC)
CA = g.generate_ca(now=NOW, validity=timedelta(days=30), algorithm="ecdsa-p256")


def _leaf() -> g.Issued:
    return g.generate_serving(ca=CA, names=NAMES, now=NOW, validity=timedelta(days=1), algorithm="ecdsa-p256")


def kubelet_publish(directory: Path, files: dict[str, bytes], generation: int) -> None:
    """What the kubelet's atomic writer does: a new timestamped dir, then one rename of the ..data symlink."""
    target = directory / f"..gen_{generation}"
    target.mkdir()
    for name, content in files.items():
        (target / name).write_bytes(content)
    tmp = directory / "..data_tmp"
    tmp.symlink_to(target.name)
    os.replace(tmp, directory / "..data")
    for name in files:
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


def _source(directory: Path, log: RecordingLogger | None = None) -> FileSource:
    config = cert_config(source="files", cert_dir=str(directory), file_poll_seconds=0.05)
    return FileSource(config=config, logger=log or RecordingLogger())


async def test_kubelet_symlink_swap_is_picked_up_by_the_running_server(tmp_path: Path) -> None:
    first, second = _leaf(), _leaf()
    kubelet_publish(tmp_path, {"tls.crt": first.cert_pem, "tls.key": first.key_pem, "ca.crt": CA.cert_pem}, 1)
    source = _source(tmp_path)
    await asyncio.wait_for(source.ensure_ready(), 5)
    assert source.ready
    assert source.current_ca_bundle() == CA.cert_pem
    task = asyncio.create_task(source.run())
    try:
        async with https_server(source.ssl_context) as port:
            served = await peer_certificate(port, cafile_pem=CA.cert_pem, server_hostname=NAMES[2])
            assert served.serial_number == first.cert.serial_number
            kubelet_publish(tmp_path, {"tls.crt": second.cert_pem, "tls.key": second.key_pem, "ca.crt": CA.cert_pem}, 2)
            for _ in range(100):
                await asyncio.sleep(0.03)
                served = await peer_certificate(port, cafile_pem=CA.cert_pem, server_hostname=NAMES[2])
                if served.serial_number == second.cert.serial_number:
                    break
            assert served.serial_number == second.cert.serial_number
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_ensure_ready_waits_for_files_to_appear(tmp_path: Path) -> None:
    log = RecordingLogger()
    source = _source(tmp_path, log)
    waiter = asyncio.create_task(source.ensure_ready())
    await asyncio.sleep(0.2)
    assert not waiter.done() and not source.ready
    leaf = _leaf()
    (tmp_path / "tls.crt").write_bytes(leaf.cert_pem)
    (tmp_path / "tls.key").write_bytes(leaf.key_pem)
    await asyncio.wait_for(waiter, 5)
    assert source.ready
    assert source.current_ca_bundle() is None  # no ca.crt given
    unreadable = [
        f for level, _, f in log.records if level == "warning" and "cannot read the certificate files" in f["error"]
    ]
    assert len(unreadable) == 1  # logged once


async def test_half_written_pair_is_refused_and_old_certificate_kept(tmp_path: Path) -> None:
    first, second = _leaf(), _leaf()
    (tmp_path / "tls.crt").write_bytes(first.cert_pem)
    (tmp_path / "tls.key").write_bytes(first.key_pem)
    log = RecordingLogger()
    source = _source(tmp_path, log)
    assert await source.reload_once()
    (tmp_path / "tls.crt").write_bytes(second.cert_pem)  # writer caught between the two files
    assert not await source.reload_once()
    assert any("does not match" in f["error"] for level, _, f in log.records if level == "warning")
    async with https_server(source.ssl_context) as port:
        served = await peer_certificate(port, cafile_pem=CA.cert_pem, server_hostname=NAMES[0])
        assert served.serial_number == first.cert.serial_number
        (tmp_path / "tls.key").write_bytes(second.key_pem)
        assert await source.reload_once()
        assert not await source.reload_once()  # unchanged content: nothing to do
        served = await peer_certificate(port, cafile_pem=CA.cert_pem, server_hostname=NAMES[0])
        assert served.serial_number == second.cert.serial_number
