"""The ``files`` certificate source: serve tls.crt/tls.key that something else (cert-manager) writes.

Why: clusters that already run cert-manager want it to own issuance and caBundle injection (its
cainjector, via the ``cert-manager.io/inject-ca-from`` annotation). The operator then only reads the
mounted Secret from ``cert_dir`` and hot-reloads the live ``SSLContext`` when the files change.

Decisions:
- Poll every ``file_poll_seconds`` (10 s, controller-runtime's poll) comparing a SHA-256 of the
  contents, not mtimes: the kubelet swaps the ``..data`` symlink, which leaves the visible files'
  own mtimes meaningless. Decided against inotify: no extra dependency, and a poll cannot miss events.
- When ``cert_dir/..data`` exists (a kubelet-mounted volume) both files are read through its resolved
  target, so a pair is always read from one snapshot. A mismatched or malformed pair (a writer caught
  half-way) is refused, the previous certificate keeps being served, and the next poll retries.
- No caBundle injection here. ``current_ca_bundle`` returns ``ca.crt`` when the Secret carries one.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass

from certs.config import CertConfig
from certs.logs import Logger
from certs.tlsctx import load_into, new_server_context


@dataclass(frozen=True)
class FileSet:
    cert: bytes
    key: bytes
    ca: bytes | None

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for part in (self.cert, self.key, self.ca or b""):
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
        return h.hexdigest()


def read_files(cert_dir: str) -> FileSet:
    """Read tls.crt, tls.key and optional ca.crt from one snapshot of ``cert_dir``. Raises ``OSError``."""
    data_link = os.path.join(cert_dir, "..data")
    base = os.path.realpath(data_link) if os.path.islink(data_link) else cert_dir
    with open(os.path.join(base, "tls.crt"), "rb") as handle:
        cert = handle.read()
    with open(os.path.join(base, "tls.key"), "rb") as handle:
        key = handle.read()
    try:
        with open(os.path.join(base, "ca.crt"), "rb") as handle:
            ca: bytes | None = handle.read() or None
    except FileNotFoundError:
        ca = None
    return FileSet(cert=cert, key=key, ca=ca)


class FileSource:
    def __init__(self, *, config: CertConfig, logger: Logger) -> None:
        self.ssl_context = new_server_context()
        self._dir = config.cert_dir
        self._poll = config.file_poll_seconds
        self._log = logger.bind(cert_dir=config.cert_dir)
        self._loaded: str | None = None
        self._last_seen: str | None = None
        self._last_error: str | None = None
        self._ca: bytes | None = None

    @property
    def ready(self) -> bool:
        return self._loaded is not None

    def current_ca_bundle(self) -> bytes | None:
        return self._ca

    async def reload_once(self) -> bool:
        """Load the files if their contents changed; ``True`` when a new certificate was loaded."""
        try:
            files = await asyncio.to_thread(read_files, self._dir)
        except OSError as exc:
            self._note_error(f"cannot read the certificate files: {exc}")
            return False
        digest = files.digest
        if digest in (self._loaded, self._last_seen):
            return False
        self._last_seen = digest
        try:
            load_into(self.ssl_context, cert_pem=files.cert, key_pem=files.key)
        except ValueError as exc:
            self._note_error(f"{exc}; keeping the previous certificate")
            return False
        self._loaded = digest
        self._ca = files.ca
        self._last_error = None
        self._log.info("serving_certificate_loaded", source="files")
        return True

    def _note_error(self, message: str) -> None:
        if message != self._last_error:
            self._log.warning("certificate_files_unusable", error=message)
        self._last_error = message

    async def ensure_ready(self) -> None:
        while not self.ready:
            await self.reload_once()
            if not self.ready:
                await asyncio.sleep(min(self._poll, 1.0))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            await self.reload_once()
