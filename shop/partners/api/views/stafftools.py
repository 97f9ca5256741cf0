from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.api.errors import ERROR_RESPONSES, ErrorOutputSerializer
from shop.stafftools.identify import goods_identify

from ...auth import KeyWrite

TAG = "staff tools"


class IdentifyInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="A photo of the item in hand: JPEG, PNG, WebP, HEIC or AVIF, at most 25 MB")
    limit = serializers.IntegerField(min_value=1, max_value=20, default=5)


class RecentOrderOutputSerializer(serializers.Serializer):
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()
    quantity = serializers.IntegerField()
    status = serializers.CharField()


class IdentifiedOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(source="match.product.id")
    sku = serializers.CharField(source="match.product.sku")
    name = serializers.CharField(source="match.product.name")
    price = serializers.DecimalField(source="match.product.price", max_digits=12, decimal_places=2)
    currency = serializers.CharField(source="match.product.currency")
    stock_quantity = serializers.IntegerField(source="match.product.stock_quantity")
    is_published = serializers.BooleanField(source="match.product.is_published")
    image_id = serializers.IntegerField(source="match.image.id")
    similarity = serializers.FloatField(source="match.similarity")
    close = serializers.BooleanField(source="match.close")
    recent_orders = RecentOrderOutputSerializer(many=True, help_text="the product's latest orders, newest first")


class IdentifyOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    close = serializers.BooleanField(help_text="the first result is very likely the item (calibrated threshold)")
    results = IdentifiedOutputSerializer(many=True)


class IdentifyApi(APIView):
    """Identify an item from a photo (returns, stocktaking, a box without a label): the closest products of the
    whole catalogue, published or not, with SKU, stock, price and latest orders. Needs the write scope (it shows
    stock and orders). The photo is not kept."""

    permission_classes = [KeyWrite]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=[TAG],
        request={"multipart/form-data": IdentifyInputSerializer},
        responses={200: IdentifyOutputSerializer, 403: ErrorOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        params = IdentifyInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        result = goods_identify(data=params.validated_data["image"].read(), limit=params.validated_data["limit"])
        return Response(IdentifyOutputSerializer(result).data)
