"""The one error base class of the package, and the exit codes it maps to.

Every error a user can cause is an :class:`AdapterctlError` carrying a message written
for that user (and optionally a hint saying what to do). The CLI's top-level handler maps
them to exit codes; anything else that escapes is an internal error (exit 3).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every command, documented in the README."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    INTERNAL = 3


class AdapterctlError(Exception):
    """Base of all errors with a user-facing message."""

    exit_code: ExitCode = ExitCode.FINDINGS

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """The text shown to the user: the message, then the hint if any."""
        if self.hint is None:
            return self.message
        return f"{self.message}\n  → {self.hint}"


class UsageError(AdapterctlError):
    """The command line itself is wrong (bad option value, missing path)."""

    exit_code = ExitCode.USAGE


class InputError(AdapterctlError):
    """An input file or repository cannot be used as given."""

    exit_code = ExitCode.FINDINGS
