"""Error codes of the visual search app: the API returns them and the tests assert them."""

from __future__ import annotations

import enum
from collections.abc import Callable


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


# English templates with named placeholders (``%(limit_mb)s``): the shop's pages translate the template with
# gettext first and put the numbers in after (``ImageRejected.message_in``), so "at most 25 MB" reads
# "最大 25 MB" in the Chinese shop. This module stays free of Django; shop/storefront/messages.py marks them.
MESSAGES = {
    ErrorCode.IMAGE_MISSING: "No photo was sent. Choose, drop or paste a photo.",
    ErrorCode.IMAGE_EMPTY: "The file is empty.",
    ErrorCode.IMAGE_TOO_LARGE: "The file is too large (at most %(limit_mb)s MB).",
    ErrorCode.IMAGE_TOO_MANY_PIXELS: "The picture has too many pixels (at most %(limit)s).",
    ErrorCode.IMAGE_TOO_SMALL: "The picture is too small (at least %(min_side)s pixels on each side).",
    ErrorCode.IMAGE_UNREADABLE: "This file is not a picture we can read. Use a JPEG, PNG, WebP, HEIC or AVIF photo.",
    ErrorCode.IMAGE_FORMAT_REFUSED: "%(format)s files are not accepted. Use a JPEG, PNG, WebP, HEIC or AVIF photo.",
    ErrorCode.IMAGE_TRUNCATED: "The picture is damaged or incomplete. Try another photo.",
    ErrorCode.SEARCH_UNAVAILABLE: "Search by photo is unavailable for a moment. Please try again shortly.",
}


def _shown(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)  # 40,000,000 pixels, not 40000000


class ImageRejected(Exception):
    """An uploaded file that is not an acceptable photo. ``message`` (English) is safe to show to the user;
    ``message_in(gettext)`` is the same in the user's language."""

    def __init__(self, code: ErrorCode, **params: object) -> None:
        self.code = code
        self.params = params
        self.message = self.message_in(lambda text: text)
        super().__init__(self.message)

    def message_in(self, translate: Callable[[str], str]) -> str:
        """The message through ``translate`` (Django's gettext on the pages), numbers and names put in after."""
        return translate(MESSAGES[self.code]) % {name: _shown(value) for name, value in self.params.items()}
