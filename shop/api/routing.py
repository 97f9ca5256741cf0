"""One view class per operation, several operations on one path.

Django routes by path only, so ``operations_view(get=ProductDetailApi, patch=ProductUpdateApi)`` builds the
path's view: each HTTP method runs its operation's handler with that operation's permissions and parsers,
and the schema shows each operation with its own class's description.
"""

from __future__ import annotations

import inspect
import re

from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView


def operations_view(**operations: type[APIView]):
    class PathApi(APIView):
        def _operation(self) -> type[APIView]:
            request = getattr(self, "request", None)  # None while drf-spectacular builds its mock request
            return operations.get(request.method.lower(), APIView) if request is not None else APIView

        def get_permissions(self):
            if self._operation() is APIView:
                return super().get_permissions()
            return [permission() for permission in self._operation().permission_classes]

        def get_parsers(self):
            if self._operation() is APIView:
                return super().get_parsers()
            return [parser() for parser in self._operation().parser_classes]

    for method, view in operations.items():
        handler = view.__dict__[method]
        # operationId from the class: ProductDetailApi -> product_detail (the path alone would give two the same id)
        operation_id = re.sub(r"(?<!^)(?=[A-Z])", "_", view.__name__.removesuffix("Api")).lower()
        schema = extend_schema(description=inspect.cleandoc(view.__doc__ or ""), operation_id=operation_id)
        setattr(PathApi, method, schema(handler))
    PathApi.__name__ = PathApi.__qualname__ = "".join(view.__name__ for view in operations.values())
    return PathApi.as_view()
