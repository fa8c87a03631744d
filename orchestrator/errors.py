"""Typed exceptions that map to cfn-autofix's exit codes."""

from __future__ import annotations

from pathlib import Path

from orchestrator.termsafe import term_safe


class AutofixError(Exception):
    """Base of every error cfn-autofix raises on purpose."""

    exit_code = 1


class BadInput(AutofixError):
    """Bad input or usage: one clear line naming the file and, where known, the line (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None):
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        # Names from templates may hold control characters: the one line stays one line and inert.
        return term_safe(f"{where}{self.message}".replace("\n", " "), keep_newlines=False)


class ConfigError(BadInput):
    """A configuration key is unknown or has the wrong type (exit 2)."""


class Refusal(AutofixError):
    """The tool refuses to act: sandbox guard, missing credentials (exit 3)."""

    exit_code = 3


class RepairRejected(AutofixError):
    """A repair was refused: it would widen privileges or break the template."""

    exit_code = 1


class Interrupted(AutofixError):
    """The run was interrupted by SIGINT/SIGTERM (exit 130)."""

    exit_code = 130
