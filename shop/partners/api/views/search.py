from dataclasses import dataclass

import numpy as np
from rest_framework import serializers

from django.db.models import Prefetch

from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Product, ProductImage
from recommendations.models import Channel, ShownKind
from recommendations.selectors import bought_together, similar_items
from recommendations.services import ShownList, action_record, shown_record
from shop.api.errors import ERROR_RESPONSES, ApiError, ErrorCode, ErrorOutputSerializer
from shop.dbrouter import replica_reads
from visualsearch.selectors import (
    CropBox,
    SearchFilters,
    active_model_key,
    active_model_key_recent,
    images_near_image,
    photo_query,
    product_has_vector,
    products_near_photo,
)
from visualsearch.categories import category_suggestions
from visualsearch.concepts import vocabulary
from visualsearch.explanations import match_explain
from visualsearch.statistics import query_vector_observe, searches_count
from visualsearch.textsearch import photo_refined_by_words, products_for_text

from ...auth import KeyRead
from ...selectors import products_visible_to
from ..serializers.search import (
    BoughtTogetherInputSerializer,
    BoughtTogetherOutputSerializer,
    CategorySuggestInputSerializer,
    CategorySuggestOutputSerializer,
    NearDuplicatesInputSerializer,
    NearDuplicatesOutputSerializer,
    SearchActionInputSerializer,
    SearchActionOutputSerializer,
    SearchByImageInputSerializer,
    SearchByImageOutputSerializer,
    SearchResultsOutputSerializer,
    SimilarInputSerializer,
    TextSearchInputSerializer,
    TextSearchOutputSerializer,
)

TAG = "visual search"
ERRORS = {**ERROR_RESPONSES, 503: ErrorOutputSerializer}


def _api_visitor(request) -> str:
    """A partner app is one visitor in the log, by its key (no end user's data reaches the shop)."""
    return f"api:{request.auth.prefix}" if request.auth is not None else "api:public"  # the key's public part


def _log(request, shown: ShownList) -> int | None:
    row = shown_record(visitor=_api_visitor(request), shown=shown)
    return row.id if row is not None else None


class SearchByImageApi(APIView):
    """Published products that look like the uploaded photo, best match first (one entry per product).

    Optional crop box (all four fields, fractions 0-1 of the photo after EXIF rotation), category, price
    range and limit. The photo is not kept.
    """

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=[TAG],
        request={"multipart/form-data": SearchByImageInputSerializer},
        responses={200: SearchByImageOutputSerializer, **ERRORS},
    )
    @replica_reads()  # a POST for the upload only: the search reads, and its log row goes to the primary anyway
    def post(self, request):
        params = SearchByImageInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        crop = None
        if "crop_x" in data:
            crop = CropBox(x=data["crop_x"], y=data["crop_y"], width=data["crop_width"], height=data["crop_height"])
        query = photo_query(data["image"].read(), crop=crop)
        query_vector_observe(model_key=query.model_key, vector=query.vector)
        searches_count(kind="photo")
        filters = SearchFilters(
            category=data.get("category"),
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            colours=(data["color"],) if data.get("color") else (),
        )
        words = data.get("q", "").strip()

        def near(vector):
            refined, narrowed = vector, filters
            if words:
                refined, narrowed, _ = photo_refined_by_words(
                    vector=vector, model_key=query.model_key, words=words, filters=filters
                )
            return products_near_photo(vector=refined, model_key=query.model_key, filters=narrowed, limit=data["limit"])

        results = near(query.vector)
        search_id = _log(request, ShownList(
            kind=ShownKind.PHOTO, channel=Channel.API, product_ids=[m.product.id for m in results],
            model_key=query.model_key, top_similarity=results[0].similarity if results else None,
            close_match=bool(results and results[0].close), query_text=words,
            filters={k: data.get(k) for k in ("category", "min_price", "max_price", "color") if data.get(k)},
            query_vector=query.base_vector, vector_key=query.base_key,
        ))
        out = SearchByImageOutputSerializer(
            {
                "model_key": query.model_key,
                "search_id": search_id,
                "box": query.box,
                "results": results,
                "objects": [
                    {"box": o.box, "found_by": "salient" if o.concept is None else "recognised",
                     "concept": None if o.concept is None else vocabulary().concepts[o.concept].english,
                     "score": o.score, "results": near(o.vector)}
                    for o in query.objects
                ],
            },
            context={"request": request},
        )
        return Response(out.data)


@dataclass(frozen=True)
class _TextMatch:
    product: Product
    image: ProductImage | None
    score: float
    found_by: list[str]


class SearchByTextApi(APIView):
    """Published products for words in English or Chinese, best first: full text over names, descriptions and
    categories (stemmed, typo-tolerant), fused with what the products' pictures show (their ImageNet concepts),
    so "sneaker" or 鞋 finds shoes by their pictures when no name holds the word. Colour words filter by colour.
    """

    @extend_schema(tags=[TAG], parameters=[TextSearchInputSerializer], responses={200: TextSearchOutputSerializer, **ERRORS})
    def get(self, request):
        params = TextSearchInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        searches_count(kind="text")
        result = products_for_text(
            text=data["q"],
            filters=SearchFilters(
                category=data.get("category"),
                min_price=data.get("min_price"),
                max_price=data.get("max_price"),
                colours=(data["color"],) if data.get("color") else (),
            ),
            in_stock=data["in_stock"],
            limit=data["limit"],
        )
        products = Product.objects.filter(id__in=[hit.product_id for hit in result.hits]).prefetch_related(
            Prefetch("images", queryset=ProductImage.objects.listed().order_by("position", "id"))
        ).in_bulk()
        results = []
        for hit in result.hits:
            product = products.get(hit.product_id)
            if product is None:
                continue
            pictures = list(product.images.all())
            found_by = (["words"] if hit.by_words else []) + (["pictures"] if hit.by_pictures else [])
            results.append(_TextMatch(product=product, image=pictures[0] if pictures else None, score=hit.score, found_by=found_by))
        search_id = _log(request, ShownList(
            kind=ShownKind.TEXT, channel=Channel.API, product_ids=[m.product.id for m in results],
            query_text=data["q"], close_match=bool(results),
            filters={k: data.get(k) for k in ("category", "min_price", "max_price", "color") if data.get(k)},
        ))
        out = TextSearchOutputSerializer(
            {
                "model_key": result.model_key,
                "search_id": search_id,
                "query": {
                    "concepts": list(result.parsed.concept_terms),
                    "colours": list(result.parsed.colours),
                    "words": result.parsed.words,
                },
                "results": results,
            },
            context={"request": request},
        )
        return Response(out.data)


class CategorySuggestApi(APIView):
    """The likeliest categories for a product photo, from the shop's own catalogue: its nearest catalogue
    pictures vote for their categories. For filing a new product; the photo is not kept."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=[TAG],
        request={"multipart/form-data": CategorySuggestInputSerializer},
        responses={200: CategorySuggestOutputSerializer, **ERRORS},
    )
    @replica_reads()  # a POST for the upload only: nothing is written
    def post(self, request):
        params = CategorySuggestInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        query = photo_query(params.validated_data["image"].read(), find_objects=False)
        suggestions = category_suggestions(
            vector=query.vector, model_key=query.model_key, limit=params.validated_data["limit"]
        )
        out = CategorySuggestOutputSerializer({"model_key": query.model_key, "suggestions": suggestions})
        return Response(out.data)


class ProductSimilarApi(APIView):
    """Published products that look like this one (not itself), nearest first.

    Answers 409 ``embedding_not_ready`` while none of the product's pictures has a vector yet (or it has no
    picture): an empty list would read as "nothing looks like it".
    """

    @extend_schema(
        tags=[TAG],
        parameters=[SimilarInputSerializer],
        responses={200: SearchResultsOutputSerializer, 409: ErrorOutputSerializer, **ERRORS},
    )
    def get(self, request, product_id: int):
        params = SimilarInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        product = Product.objects.filter(id=product_id, is_published=True).first()
        if product is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such product.", http_status=404)
        matches = similar_items(product=product, limit=params.validated_data["limit"])
        # Results prove a vector; only an empty list costs the extra query that tells the two cases apart.
        if not matches and not product_has_vector(product_id=product.id):
            raise ApiError(
                ErrorCode.EMBEDDING_NOT_READY,
                "This product's pictures have no vector yet (or it has no picture); try again once an image's "
                "embedding is ready.",
                http_status=409,
            )
        out = SearchResultsOutputSerializer(
            {"model_key": active_model_key_recent(), "results": matches}, context={"request": request}
        )
        return Response(out.data)


class ProductBoughtTogetherApi(APIView):
    """Published products most often in one order with this one (not itself): those in stock first, then by
    how many orders held both. An empty list until the product has been ordered with another."""

    @extend_schema(
        tags=[TAG],
        parameters=[BoughtTogetherInputSerializer],
        responses={200: BoughtTogetherOutputSerializer, **ERROR_RESPONSES},
    )
    def get(self, request, product_id: int):
        params = BoughtTogetherInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        product = Product.objects.filter(id=product_id, is_published=True).first()
        if product is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such product.", http_status=404)
        items = bought_together(product=product, limit=params.validated_data["limit"])
        return Response(BoughtTogetherOutputSerializer({"results": items}, context={"request": request}).data)


@dataclass(frozen=True)
class _Duplicate:
    image: ProductImage
    distance: float

    @property
    def similarity(self) -> float:
        return 1.0 - self.distance


class ImageNearDuplicatesApi(APIView):
    """Catalogue images nearly identical to this one, for clean-up: the same photo on two products, or
    uploaded twice re-encoded or slightly cropped. Lists only products you may see (published, or yours).

    Answers 409 while the image has no vector yet (see its ``embedding.status`` on the product).
    """

    @extend_schema(
        tags=[TAG],
        parameters=[NearDuplicatesInputSerializer],
        responses={200: NearDuplicatesOutputSerializer, 409: ErrorOutputSerializer, **ERRORS},
    )
    def get(self, request, image_id: int):
        params = NearDuplicatesInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        visible = products_visible_to(user=request.user)
        if not ProductImage.objects.filter(id=image_id, product__in=visible).exists():
            raise ApiError(ErrorCode.NOT_FOUND, "No such image.", http_status=404)
        hits = images_near_image(
            image_id=image_id, limit=params.validated_data["limit"], max_distance=params.validated_data["max_distance"]
        )
        if hits is None:
            raise ApiError(ErrorCode.EMBEDDING_NOT_READY, "This image has no vector yet; try again later.", http_status=409)
        images = ProductImage.objects.select_related("product").filter(
            id__in=[hit.image_id for hit in hits], product__in=visible
        ).in_bulk()
        results = [_Duplicate(image=images[hit.image_id], distance=hit.distance) for hit in hits if hit.image_id in images]
        out = NearDuplicatesOutputSerializer(
            {"model_key": active_model_key(), "image_id": image_id, "results": results}, context={"request": request}
        )
        return Response(out.data)


class ExplainInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="The photo that was searched (it is not kept)")
    image_id = serializers.IntegerField(min_value=1, help_text="the matched catalogue picture (a result's image_id)")


class ExplainOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    image_id = serializers.IntegerField(source="image.id")
    product_id = serializers.IntegerField(source="image.product_id")
    similarity = serializers.FloatField(help_text="plain cosine of the two pictures' features")
    close_threshold = serializers.FloatField(allow_null=True, help_text="the key's close-match threshold (centred space)")
    query_heat = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="rows of cells over the photo as the model saw it (resized, centre-cropped square), 0-1: how "
        "much each region looks like the matched picture",
    )
    match_heat = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    shared_concepts = serializers.ListField(child=serializers.DictField(), help_text="[{english, chinese, strength}]")
    shared_colours = serializers.ListField(child=serializers.CharField())


class ExplainMatchApi(APIView):
    """Why a result matches the photo: heat maps over both pictures (where they agree), the concepts both show and
    the colours both have. Costs one forward pass of the pair; the photo is not kept."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(tags=[TAG], request={"multipart/form-data": ExplainInputSerializer},
                   responses={200: ExplainOutputSerializer, **ERRORS})
    def post(self, request):
        params = ExplainInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        explained = match_explain(data=params.validated_data["image"].read(), image_id=params.validated_data["image_id"])
        if explained is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such catalogue picture.", http_status=404)
        return Response(ExplainOutputSerializer({
            "model_key": explained.model_key, "image": explained.image, "similarity": round(explained.similarity, 4),
            "close_threshold": explained.close_threshold,
            "query_heat": np.round(explained.query_heat, 3).tolist(), "match_heat": np.round(explained.match_heat, 3).tolist(),
            "shared_concepts": [{"english": e, "chinese": z, "strength": p} for e, z, p in explained.shared_concepts],
            "shared_colours": explained.shared_colours,
        }).data)


class SearchActionApi(APIView):
    """Tell the shop what your user did with a result of a search this key made (opened it, added it to the cart,
    bought it): the shop's analytics count it and the search learns from it. Recording the same action twice is
    harmless. 404 ``not_found`` when the search is not this key's or did not show the product."""

    permission_classes = [KeyRead]  # a search's actions belong to the key that searched
    @extend_schema(tags=[TAG], request=SearchActionInputSerializer,
                   responses={201: SearchActionOutputSerializer, 404: ErrorOutputSerializer, **ERRORS})
    def post(self, request):
        params = SearchActionInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        action = action_record(visitor=_api_visitor(request), shown_id=data["search_id"],
                               product_id=data["product_id"], kind=data["action"])
        if action is None:
            raise ApiError(ErrorCode.NOT_FOUND, "This API key made no such search, or it did not show that product.",
                           http_status=404)
        out = SearchActionOutputSerializer({**data, "rank": action.rank})
        return Response(out.data, status=201)
