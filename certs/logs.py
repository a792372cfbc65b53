"""The logger shape the certificate sources need: structlog's bound logger, or anything with the same methods.

Why a Protocol rather than importing structlog's types: the runtime passes its configured logger, tests
pass a recorder, and this package stays free of logging configuration.
"""

from __future__ import annotations

from typing import Any, Protocol


class Logger(Protocol):
    def bind(self, **kw: Any) -> Logger: ...

    def debug(self, event: str, /, **kw: Any) -> Any: ...

    def info(self, event: str, /, **kw: Any) -> Any: ...

    def warning(self, event: str, /, **kw: Any) -> Any: ...

    def error(self, event: str, /, **kw: Any) -> Any: ...
