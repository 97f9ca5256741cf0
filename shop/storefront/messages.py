"""Messages made outside the storefront that its pages (and the admin's photo upload) show, marked here so
`makemessages` offers them for translation (visualsearch keeps its English messages free of Django's translation
machinery; the views translate them with gettext when they show them, then put the numbers in:
``ImageRejected.message_in(gettext)``). A test checks this list against visualsearch.errors.MESSAGES."""

from django.utils.translation import gettext_noop

PAGE_MESSAGES = [
    gettext_noop("No photo was sent. Choose, drop or paste a photo."),
    gettext_noop("The file is empty."),
    gettext_noop("The file is too large (at most %(limit_mb)s MB)."),
    gettext_noop("The picture has too many pixels (at most %(limit)s)."),
    gettext_noop("The picture is too small (at least %(min_side)s pixels on each side)."),
    gettext_noop("This file is not a picture we can read. Use a JPEG, PNG, WebP, HEIC or AVIF photo."),
    gettext_noop("%(format)s files are not accepted. Use a JPEG, PNG, WebP, HEIC or AVIF photo."),
    gettext_noop("The picture is damaged or incomplete. Try another photo."),
    gettext_noop("Search by photo is unavailable for a moment. Please try again shortly."),
]
