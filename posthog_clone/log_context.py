"""Log lines from other libraries (Django's request log, gunicorn) carry the request id too."""

from __future__ import annotations

import logging

import structlog


class ContextVarsFilter(logging.Filter):
    """Copies structlog's context (the request id) onto each record when it is emitted, inside the request; the
    formatter's `ExtraAdder` then writes it out, however late the record is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in structlog.contextvars.get_contextvars().items():
            setattr(record, key, value)
        return True
