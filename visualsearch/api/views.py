from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Product
from recommendations.selectors import similar_items
from visualsearch.selectors import SearchFilters, active_model_key, photo_embed, products_near_vector

from .serializers import (
    SearchByImageInputSerializer,
    SearchResultsOutputSerializer,
    SimilarInputSerializer,
)


class SearchByImageApi(APIView):
    """Products that look like the uploaded photo, best match first (one entry per product)."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": SearchByImageInputSerializer}, responses=SearchResultsOutputSerializer)
    def post(self, request):
        params = SearchByImageInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        model_key, vector = photo_embed(data["image"].read())
        matches = products_near_vector(
            vector=vector,
            model_key=model_key,
            filters=SearchFilters(
                category=data.get("category"), min_price=data.get("min_price"), max_price=data.get("max_price")
            ),
            limit=data["limit"],
        )
        out = SearchResultsOutputSerializer({"model_key": model_key, "results": matches}, context={"request": request})
        return Response(out.data)


class ProductSimilarApi(APIView):
    """Published products that look like this one (not itself), nearest first."""

    @extend_schema(parameters=[SimilarInputSerializer], responses=SearchResultsOutputSerializer)
    def get(self, request, product_id: int):
        params = SimilarInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        product = get_object_or_404(Product, id=product_id, is_published=True)
        matches = similar_items(product=product, limit=params.validated_data["limit"])
        out = SearchResultsOutputSerializer(
            {"model_key": active_model_key(), "results": matches}, context={"request": request}
        )
        return Response(out.data)
