"""structlog configuration for the operator process: JSON lines in clusters, readable console on a TTY.

One call at process start (``configure_logging``) decides the renderer and the level; everything else
gets loggers with ``structlog.get_logger(name)`` and passes context (``admission_uid``, ``raycluster``,
``namespace``…) as fields instead of formatting it into messages. Filtering happens in the bound logger, so a
debug call below the level costs almost nothing on the admission hot path.

Decided against: routing through the stdlib ``logging`` module (an extra formatting pass per line
and one more global to configure) and caching loggers on first use (tests reconfigure the level).
"""

from __future__ import annotations

import logging as std_logging
import sys
from typing import Any, TextIO

import structlog

LEVELS = {
    "debug": std_logging.DEBUG,
    "info": std_logging.INFO,
    "warning": std_logging.WARNING,
    "error": std_logging.ERROR,
    "critical": std_logging.CRITICAL,
}


def resolve_format(fmt: str, stream: TextIO) -> str:
    """``auto`` is ``console`` when ``stream`` is a terminal and ``json`` otherwise (pods, pipes, files)."""
    if fmt == "auto":
        isatty = getattr(stream, "isatty", None)
        return "console" if callable(isatty) and isatty() else "json"
    if fmt not in ("json", "console"):
        raise ValueError(f"log format must be auto, json or console, not {fmt!r} (flag --log-format)")
    return fmt


def level_number(level: str) -> int:
    try:
        return LEVELS[level.strip().lower()]
    except KeyError:
        raise ValueError(
            f"log level must be one of {', '.join(LEVELS)}, not {level!r} "
            "(flag --log-level, env RAY_OPERATOR_LOG_LEVEL)"
        ) from None


def configure_logging(*, level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stderr
    renderer: Any
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if resolve_format(fmt, out) == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        processors.append(structlog.processors.dict_tracebacks)
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_number(level)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
