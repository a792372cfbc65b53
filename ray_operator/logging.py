"""structlog configuration for the operator process: JSON lines in clusters, readable console on a TTY.

One call at process start (``configure_logging``) decides the renderer and the level; everything else
gets loggers with ``structlog.get_logger(name)`` and passes context (``admission_uid``, ``raycluster``,
``namespace``…) as fields instead of formatting it into messages. Filtering happens in the bound logger, so a
debug call below the level costs almost nothing on the admission hot path.

Tracebacks never carry local variables, in either renderer: structlog's defaults print them (its
JSON ``dict_tracebacks`` and, where ``rich`` is installed, its console renderer), and a frame's locals
hold AdmissionReview bodies, Secret data and private keys. Event names are snake_case ``noun_verb``
(``operator_starting``, ``webhook_serving``, ``certificate_secret_written``): greppable, and stable
because the human wording goes into fields.

Decided against: routing through the stdlib ``logging`` module (an extra formatting pass per line
and one more global to configure) and caching loggers on first use (tests reconfigure the level).
"""

from __future__ import annotations

import logging as std_logging
import sys
from typing import Any, Literal, TextIO, get_args

import structlog
import structlog.tracebacks

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LogFormat = Literal["auto", "json", "console"]

LEVELS: dict[str, int] = {name: int(std_logging.getLevelName(name.upper())) for name in get_args(LogLevel)}


def resolve_format(fmt: str, stream: TextIO) -> str:
    """``auto`` is ``console`` when ``stream`` is a terminal and ``json`` otherwise (pods, pipes, files)."""
    if fmt == "auto":
        isatty = getattr(stream, "isatty", None)
        return "console" if callable(isatty) and isatty() else "json"
    if fmt not in get_args(LogFormat):
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
        # plain_traceback: the same text whether or not rich is installed, and never the frames' locals.
        renderer = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    else:
        no_locals = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        processors.append(structlog.processors.ExceptionRenderer(no_locals))
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_number(level)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
