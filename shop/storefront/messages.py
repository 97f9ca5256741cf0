"""Messages made outside the storefront that its pages show, marked here so `makemessages` offers them for
translation (visualsearch keeps its English messages free of Django's translation machinery; the views
translate them with gettext when they show them)."""

from django.utils.translation import gettext_noop

PAGE_MESSAGES = [
    gettext_noop("No photo was sent. Choose, drop or paste a photo."),
    gettext_noop("The file is empty."),
    gettext_noop("This file is not a picture we can read. Use a JPEG, PNG, WebP, HEIC or AVIF photo."),
    gettext_noop("The picture is damaged or incomplete. Try another photo."),
    gettext_noop("Search by photo is unavailable for a moment. Please try again shortly."),
]
