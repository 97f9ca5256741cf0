"""Error codes of the visual search app: the API returns them and the tests assert them."""

from __future__ import annotations

import enum


class ErrorCode(str, enum.Enum):
    IMAGE_MISSING = "image_missing"
    IMAGE_EMPTY = "image_empty"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_MANY_PIXELS = "image_too_many_pixels"
    IMAGE_TOO_SMALL = "image_too_small"
    IMAGE_UNREADABLE = "image_unreadable"
    IMAGE_FORMAT_REFUSED = "image_format_refused"
    IMAGE_TRUNCATED = "image_truncated"
    SEARCH_UNAVAILABLE = "search_unavailable"


MESSAGES = {
    ErrorCode.IMAGE_MISSING: "No photo was sent. Choose, drop or paste a photo.",
    ErrorCode.IMAGE_EMPTY: "The file is empty.",
    ErrorCode.IMAGE_TOO_LARGE: "The file is too large (at most {limit_mb} MB).",
    ErrorCode.IMAGE_TOO_MANY_PIXELS: "The picture has too many pixels (at most {limit:,}).",
    ErrorCode.IMAGE_TOO_SMALL: "The picture is too small (at least {min_side} pixels on each side).",
    ErrorCode.IMAGE_UNREADABLE: "This file is not a picture we can read. Use a JPEG, PNG, WebP, HEIC or AVIF photo.",
    ErrorCode.IMAGE_FORMAT_REFUSED: "{format} files are not accepted. Use a JPEG, PNG, WebP, HEIC or AVIF photo.",
    ErrorCode.IMAGE_TRUNCATED: "The picture is damaged or incomplete. Try another photo.",
    ErrorCode.SEARCH_UNAVAILABLE: "Search by photo is unavailable for a moment. Please try again shortly.",
}


class ImageRejected(Exception):
    """An uploaded file that is not an acceptable photo. ``message`` is safe to show to the user."""

    def __init__(self, code: ErrorCode, **params: object) -> None:
        self.code = code
        self.params = params
        self.message = MESSAGES[code].format(**params)
        super().__init__(self.message)
