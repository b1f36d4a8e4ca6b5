"""The error every layer raises for bad input: which field is wrong, why, and the HTTP status.

The API turns it into a 4xx answer naming the field (``api/errors.py``); the CLI prints it.
"""

from __future__ import annotations

__all__ = ["FieldError"]


class FieldError(ValueError):
    """Input that cannot be taken: ``field`` (a form field, JSON path or column) and why."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status
