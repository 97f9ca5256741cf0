"""The shop's URLs plus the uploaded media, for the browser tests (the live server runs with DEBUG off)."""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from shop.urls import urlpatterns as shop_urlpatterns


def media(request, path):
    # MEDIA_ROOT is read per request: each test stores its pictures in its own folder.
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [re_path(r"^media/(?P<path>.*)$", media), *shop_urlpatterns]
