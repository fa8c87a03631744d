"""structlog set-up: readable on a terminal, JSON lines otherwise, always on stderr; every line through the redactor."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

from orchestrator import redact
from orchestrator.redact import REDACTED, noecho_parameters

__all__ = ["REDACTED", "configure_logging", "current_settings", "get_logger", "is_configured", "noecho_parameters"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_state: dict[str, Any] = {"configured": False, "json": False, "level": "info"}


class _StderrLogger:
    """Writes each rendered line to the stderr of the moment (test runners swap sys.stderr)."""

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_factory(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


def configure_logging(json: bool | None = None, level: str = "info", colors: bool | None = None) -> None:
    """Configure structlog (again, if called again). json=None: JSON lines unless stderr is a terminal.

    Called by the CLI only: the library logs through structlog and leaves its configuration to the host.
    colors=None: coloured on a terminal unless NO_COLOR is set.
    """
    if level not in _LEVELS:
        raise ValueError(f"log level must be one of {', '.join(_LEVELS)}, not {level!r}")
    if json is None:
        json = not _stderr_is_tty()
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=_use_colors(colors))
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
            *([] if json else [_console_safe_stack]),
            _redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_stderr_factory,
        # Modules keep module-level loggers; without the cache they follow a later reconfiguration.
        cache_logger_on_first_use=False,
    )
    _state.update(configured=True, json=json, level=level, colors=_use_colors(colors))


def _console_safe_stack(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # The console renderer prints a "stack" field as a stack trace; ours is the stack name.
    if "stack" in event_dict:
        event_dict["stack_name"] = event_dict.pop("stack")
    return event_dict


def _use_colors(colors: bool | None) -> bool:
    if colors is not None:
        return colors
    return _stderr_is_tty() and not os.environ.get("NO_COLOR")


def is_configured() -> bool:
    return bool(_state["configured"])


def current_settings() -> dict[str, Any] | None:
    """The arguments of the last configure_logging (None if never called): worker processes repeat them."""
    if not _state["configured"]:
        return None
    return {"json": _state["json"], "level": _state["level"], "colors": _state.get("colors")}


def get_logger(name: str | None = None, **bound: Any) -> Any:
    """structlog.get_logger(name) with fields bound. Modules use `structlog.get_logger(__name__)` and bind run
    context with structlog.contextvars.bound_contextvars; a library never configures logging itself."""
    return structlog.get_logger(name).bind(**bound)


def _redact_event(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # Last before rendering: every field of every line passes the active run's redactor.
    return redact.current().value(event_dict)


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
