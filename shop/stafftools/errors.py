"""Error codes of the staff tools: the admin pages show their messages, the API returns them, the tests assert them."""

from __future__ import annotations

import enum


class ErrorCode(str, enum.Enum):
    JOB_NO_PHOTOS = "job_no_photos"
    JOB_TOO_MANY_PHOTOS = "job_too_many_photos"
    CSV_INVALID = "csv_invalid"
    SKU_UNKNOWN = "sku_unknown"


class JobRejected(Exception):
    """An upload a job cannot be made of; ``message`` (English) is safe to show. Nothing is stored."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)
