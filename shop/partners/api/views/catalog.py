"""Catalogue API: one view per operation. Writes need a key with the write scope and go through services."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Category, Product
from catalog.services import ProductData, VariantData, VariantSkuTaken
from shop.api.errors import ERROR_RESPONSES, ApiError, ErrorCode, ErrorOutputSerializer
from shop.api.pagination import page
from visualsearch.selectors import embedding_status_for_images

from ... import selectors
from ... import services as partners_services
from ...auth import KeyWrite, owner_check
from ..serializers.catalog import (
    CategoryListOutputSerializer,
    ProductBulkCreateInputSerializer,
    ProductBulkOutputSerializer,
    ProductCreateInputSerializer,
    ProductImageAddInputSerializer,
    ProductImageAddOutputSerializer,
    ProductListInputSerializer,
    ProductOutputSerializer,
    ProductPageOutputSerializer,
    ProductUpdateInputSerializer,
    VariantCreateInputSerializer,
    VariantOutputSerializer,
    VariantUpdateInputSerializer,
)

TAG = "catalogue"
ERRORS = ERROR_RESPONSES
WRITE_ERRORS = {**ERRORS, 409: ErrorOutputSerializer}


def _context(request, products: list[Product]) -> dict:
    image_ids = [image.id for product in products for image in product.images.all()]
    return {"request": request, "embeddings": embedding_status_for_images(image_ids)}


def _product_out(request, product_id: int) -> dict:
    product = selectors.product_detail(user=request.user, product_id=product_id)
    return ProductOutputSerializer(product, context=_context(request, [product])).data


def _writable_product(request, product_id: int) -> Product:
    """The product if this caller may see it and change it: 404 if invisible, 403 if someone else's."""
    product = selectors.products_visible_to(user=request.user).select_related("partner").filter(id=product_id).first()
    if product is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such product.", http_status=404)
    partner = getattr(product, "partner", None)
    owner_check(user=request.user, owner_id=partner.owner_id if partner else None)
    return product


def _product_data(fields: dict) -> ProductData:
    return ProductData(**{name: value for name, value in fields.items() if name != "variants"})


def _variants_data(fields: dict) -> list[VariantData]:
    return [VariantData(**variant) for variant in fields.get("variants", [])]


def _sku_conflict(error: VariantSkuTaken) -> ApiError:
    # The serializers check first; this is the race with another writer between the check and the insert.
    return ApiError(ErrorCode.CONFLICT, f"The SKU {error} was just taken by another product or variant.",
                    http_status=409)


class CategoryListApi(APIView):
    """All categories, tree order (``parent`` is the parent's slug)."""

    @extend_schema(tags=[TAG], responses={200: CategoryListOutputSerializer, **ERRORS})
    def get(self, request):
        categories = Category.objects.select_related("parent").order_by("position", "name", "id")
        return Response(CategoryListOutputSerializer({"results": categories}).data)


class ProductListApi(APIView):
    """Products, newest first (best text match first with ``q``), in pages of at most 100."""

    @extend_schema(tags=[TAG], parameters=[ProductListInputSerializer], responses={200: ProductPageOutputSerializer, **ERRORS})
    def get(self, request):
        params = ProductListInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        products = selectors.products_list(
            user=request.user,
            filters=selectors.ProductFilters(
                category=data.get("category"),
                min_price=data.get("min_price"),
                max_price=data.get("max_price"),
                in_stock=data.get("in_stock"),
                q=data.get("q", ""),
            ),
        )
        result = page(request=request, queryset=products, limit=data["limit"], offset=data["offset"])
        return Response(ProductPageOutputSerializer(result, context=_context(request, result["results"])).data)


class ProductDetailApi(APIView):
    """One product with its images and each image's embedding status."""

    @extend_schema(tags=[TAG], responses={200: ProductOutputSerializer, **ERRORS})
    def get(self, request, product_id: int):
        product = selectors.product_detail(user=request.user, product_id=product_id)
        if product is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such product.", http_status=404)
        return Response(ProductOutputSerializer(product, context=_context(request, [product])).data)


class ProductCreateApi(APIView):
    """Create a product (write scope). You own it: only you (and staff) may change it."""

    permission_classes = [KeyWrite]
    parser_classes = [JSONParser]

    @extend_schema(tags=[TAG], request=ProductCreateInputSerializer, responses={201: ProductOutputSerializer, **WRITE_ERRORS})
    def post(self, request):
        params = ProductCreateInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            product = partners_services.partner_product_create(
                owner=request.user, data=_product_data(params.validated_data),
                variants=_variants_data(params.validated_data),
            )
        except VariantSkuTaken as error:
            raise _sku_conflict(error) from None
        return Response(_product_out(request, product.id), status=status.HTTP_201_CREATED)


class ProductBulkCreateApi(APIView):
    """Create up to 100 products in one call, all or nothing (write scope)."""

    permission_classes = [KeyWrite]
    parser_classes = [JSONParser]

    @extend_schema(tags=[TAG], request=ProductBulkCreateInputSerializer, responses={201: ProductBulkOutputSerializer, **WRITE_ERRORS})
    def post(self, request):
        params = ProductBulkCreateInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            products = partners_services.partner_products_bulk_create(
                owner=request.user,
                items=[(_product_data(item), _variants_data(item)) for item in params.validated_data["products"]],
            )
        except VariantSkuTaken as error:
            raise _sku_conflict(error) from None
        ids = [product.id for product in products]
        created = list(
            Product.objects.filter(id__in=ids)
            .select_related("category", "partner")
            .prefetch_related(Prefetch("images", queryset=selectors.listed_images()), "variants")
            .order_by("id")
        )
        out = ProductBulkOutputSerializer({"results": created}, context=_context(request, created))
        return Response(out.data, status=status.HTTP_201_CREATED)


class ProductUpdateApi(APIView):
    """Change some fields of your product (write scope); send only the fields to change."""

    permission_classes = [KeyWrite]
    parser_classes = [JSONParser]

    @extend_schema(tags=[TAG], request=ProductUpdateInputSerializer, responses={200: ProductOutputSerializer, **WRITE_ERRORS})
    def patch(self, request, product_id: int):
        product = _writable_product(request, product_id)
        params = ProductUpdateInputSerializer(data=request.data, partial=True, context={"product_id": product.id})
        params.is_valid(raise_exception=True)
        partners_services.partner_product_update(product=product, fields=dict(params.validated_data))
        return Response(_product_out(request, product.id))


class ProductDeleteApi(APIView):
    """Delete your product and its images (write scope)."""

    permission_classes = [KeyWrite]

    @extend_schema(tags=[TAG], request=None, responses={204: OpenApiResponse(description="deleted"), **ERRORS})
    def delete(self, request, product_id: int):
        product = _writable_product(request, product_id)
        partners_services.partner_product_delete(product=product)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductImageAddApi(APIView):
    """Upload a photo of your product (multipart, write scope): validated, re-encoded and embedded like in admin.

    Answers 201 with the new image (embedding ``pending``), or 200 when the product already has this photo.
    """

    permission_classes = [KeyWrite]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=[TAG],
        request={"multipart/form-data": ProductImageAddInputSerializer},
        responses={201: ProductImageAddOutputSerializer, 200: ProductImageAddOutputSerializer, **ERRORS},
    )
    def post(self, request, product_id: int):
        product = _writable_product(request, product_id)
        params = ProductImageAddInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        variant = None
        if data["variant_id"] is not None:
            variant = product.variants.filter(id=data["variant_id"]).first()
            if variant is None:
                raise ApiError(ErrorCode.INVALID, "This product has no such variant.", http_status=400,
                               details={"variant_id": ["This product has no such variant."]})
        image, created = partners_services.partner_product_image_add(
            product=product, data=data["image"].read(), alt_text=data["alt_text"], position=data.get("position"),
            variant=variant,
        )
        context = {"request": request, "created": created, "embeddings": embedding_status_for_images([image.id])}
        return Response(
            ProductImageAddOutputSerializer(image, context=context).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ProductImageDeleteApi(APIView):
    """Delete one photo of your product (write scope)."""

    permission_classes = [KeyWrite]

    @extend_schema(tags=[TAG], request=None, responses={204: OpenApiResponse(description="deleted"), **ERRORS})
    def delete(self, request, product_id: int, image_id: int):
        product = _writable_product(request, product_id)
        image = selectors.listed_images().filter(product=product, id=image_id).first()
        if image is None:
            raise ApiError(ErrorCode.NOT_FOUND, "This product has no such image.", http_status=404)
        partners_services.partner_product_image_delete(image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _writable_variant(request, product_id: int, variant_id: int):
    product = _writable_product(request, product_id)
    variant = product.variants.filter(id=variant_id).first()
    if variant is None:
        raise ApiError(ErrorCode.NOT_FOUND, "This product has no such variant.", http_status=404)
    return variant


def _variant_name_free(product, name: str, *, exclude_id: int | None = None) -> None:
    """400 before the unique constraint would answer with an IntegrityError."""
    if product.variants.filter(name=name).exclude(id=exclude_id).exists():
        message = "This product already has a variant with this name."
        raise ApiError(ErrorCode.INVALID, message, http_status=400, details={"name": [message]})


class VariantCreateApi(APIView):
    """Add a variant (a colour, a size) to your product (write scope). The product's stock becomes the sum of its
    variants' stock, and orders then name the variant bought."""

    permission_classes = [KeyWrite]
    parser_classes = [JSONParser]

    @extend_schema(tags=[TAG], request=VariantCreateInputSerializer, responses={201: VariantOutputSerializer, **WRITE_ERRORS})
    def post(self, request, product_id: int):
        product = _writable_product(request, product_id)
        params = VariantCreateInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        _variant_name_free(product, params.validated_data["name"])
        try:
            variant = partners_services.partner_variant_create(product=product, data=VariantData(**params.validated_data))
        except VariantSkuTaken as error:
            raise _sku_conflict(error) from None
        return Response(VariantOutputSerializer(variant).data, status=status.HTTP_201_CREATED)


class VariantUpdateApi(APIView):
    """Change some fields of a variant of your product (write scope): its stock after a delivery, its price."""

    permission_classes = [KeyWrite]
    parser_classes = [JSONParser]

    @extend_schema(tags=[TAG], request=VariantUpdateInputSerializer, responses={200: VariantOutputSerializer, **WRITE_ERRORS})
    def patch(self, request, product_id: int, variant_id: int):
        variant = _writable_variant(request, product_id, variant_id)
        params = VariantUpdateInputSerializer(data=request.data, partial=True, context={"variant_id": variant.id})
        params.is_valid(raise_exception=True)
        if params.validated_data.get("name"):
            _variant_name_free(variant.product, params.validated_data["name"], exclude_id=variant.id)
        try:
            variant = partners_services.partner_variant_update(variant=variant, fields=dict(params.validated_data))
        except VariantSkuTaken as error:
            raise _sku_conflict(error) from None
        return Response(VariantOutputSerializer(variant).data)


class VariantDeleteApi(APIView):
    """Delete a variant of your product (write scope); its pictures stay as the product's."""

    permission_classes = [KeyWrite]

    @extend_schema(tags=[TAG], request=None, responses={204: OpenApiResponse(description="deleted"), **ERRORS})
    def delete(self, request, product_id: int, variant_id: int):
        partners_services.partner_variant_delete(variant=_writable_variant(request, product_id, variant_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
