import math

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from visualsearch.colours import PALETTE

from .catalog import CategorySlugField, PriceField

CROP_HELP = (
    "crop box in fractions (0-1) of the photo's width and height, after EXIF rotation: send all four of "
    "crop_x, crop_y, crop_width, crop_height, or none"
)


class FiniteFloatField(serializers.FloatField):
    """DRF's FloatField lets "nan" and "inf" through its min/max checks (every comparison with NaN is false)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


COLOUR_KEYS = [colour.key for colour in PALETTE]


class SearchByImageInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="The photo: JPEG, PNG, WebP, HEIC or AVIF, at most 25 MB")
    q = serializers.CharField(
        required=False, max_length=200, allow_blank=True,
        help_text="words that refine the photo, English or Chinese: words naming a kind of thing (\"shoe\", 鞋) move "
        "the search toward it, colour words (\"red\", 红色) keep pictures of that colour, other words must match "
        "the product's text",
    )
    color = serializers.ChoiceField(
        choices=COLOUR_KEYS, required=False, help_text="only matches whose matched picture has this colour"
    )
    category = CategorySlugField(required=False, help_text="category slug, any letter case (and its subcategories)")
    min_price = PriceField(required=False)
    max_price = PriceField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=24)
    crop_x = FiniteFloatField(min_value=0, max_value=1, required=False, help_text="left edge; " + CROP_HELP)
    crop_y = FiniteFloatField(min_value=0, max_value=1, required=False, help_text="top edge")
    crop_width = FiniteFloatField(min_value=0.01, max_value=1, required=False, help_text="width")
    crop_height = FiniteFloatField(min_value=0.01, max_value=1, required=False, help_text="height")

    def validate(self, attrs):
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": "must not be above max_price"})
        crop = [name for name in ("crop_x", "crop_y", "crop_width", "crop_height") if name in attrs]
        if crop and len(crop) != 4:
            raise serializers.ValidationError({"crop_x": "send all four crop fields, or none"})
        if crop:
            # A small tolerance: clients compute fractions in floating point (0.1 + 0.9 > 1.0).
            if attrs["crop_x"] + attrs["crop_width"] > 1 + 1e-6:
                raise serializers.ValidationError({"crop_width": "crop_x + crop_width must not exceed 1"})
            if attrs["crop_y"] + attrs["crop_height"] > 1 + 1e-6:
                raise serializers.ValidationError({"crop_height": "crop_y + crop_height must not exceed 1"})
        return attrs


class SimilarInputSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=8)


class MatchedVariantOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    price = serializers.DecimalField(source="unit_price", max_digits=12, decimal_places=2,
                                     help_text="the variant's own price, or the product's")
    stock_quantity = serializers.IntegerField()
    in_stock = serializers.BooleanField()


class ProductMatchOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(source="product.id")
    name = serializers.CharField(source="product.name")
    price = serializers.DecimalField(source="product.price", max_digits=12, decimal_places=2)
    currency = serializers.CharField(source="product.currency")
    url = serializers.SerializerMethodField()
    image_id = serializers.IntegerField(source="image.id")
    image_url = serializers.SerializerMethodField()
    variant = serializers.SerializerMethodField(
        help_text="the variant whose picture matched (you searched a red one: the red one), or null"
    )
    similarity = serializers.FloatField(
        help_text="the score results are ranked by: cosine similarity of the query and the matched image (for a "
        "photo, in the shop's centred space: query minus the mean of recent queries, image minus the catalogue mean)"
    )
    close = serializers.BooleanField(
        help_text="true when the similarity reaches the model's calibrated close-match threshold: this is very "
        "likely the thing in the photo; false: only the nearest the shop has"
    )
    colours = serializers.ListField(
        child=serializers.CharField(), source="image.colour_keys", allow_null=True,
        help_text="the matched picture's colours (palette keys, largest share first); null until measured",
    )

    def get_url(self, match) -> str:
        url = match.product.get_absolute_url()
        if match.image.variant_id is not None:
            url += f"?variant={match.image.variant_id}"
        return self.context["request"].build_absolute_uri(url)

    def get_image_url(self, match) -> str:
        return self.context["request"].build_absolute_uri(match.image.thumbnail.url)

    @extend_schema_field(MatchedVariantOutputSerializer(allow_null=True))
    def get_variant(self, match) -> dict | None:
        variant = match.image.variant
        return None if variant is None else MatchedVariantOutputSerializer(variant).data


class SearchResultsOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    results = ProductMatchOutputSerializer(many=True)


class BoughtTogetherInputSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=6)


class BoughtTogetherItemOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(source="product.id")
    name = serializers.CharField(source="product.name")
    price = serializers.DecimalField(source="product.price", max_digits=12, decimal_places=2)
    currency = serializers.CharField(source="product.currency")
    in_stock = serializers.BooleanField(source="product.in_stock")
    url = serializers.SerializerMethodField()
    image_id = serializers.IntegerField(source="image.id")
    image_url = serializers.SerializerMethodField()
    orders = serializers.IntegerField(help_text="how many of the shop's orders held both products")

    def get_url(self, item) -> str:
        return self.context["request"].build_absolute_uri(item.product.get_absolute_url())

    def get_image_url(self, item) -> str:
        return self.context["request"].build_absolute_uri(item.image.thumbnail.url)


class BoughtTogetherOutputSerializer(serializers.Serializer):
    results = BoughtTogetherItemOutputSerializer(many=True)


class BoxOutputSerializer(serializers.Serializer):
    x = serializers.FloatField(help_text="left edge, a fraction (0-1) of the photo's width, like crop_x")
    y = serializers.FloatField(help_text="top edge, a fraction of the height")
    width = serializers.FloatField()
    height = serializers.FloatField()


class FoundObjectOutputSerializer(serializers.Serializer):
    box = BoxOutputSerializer()
    found_by = serializers.ChoiceField(
        choices=["salient", "recognised"],
        help_text="salient: it stands out in the photo (a salient-object network); recognised: the search model "
        "recognised a kind of thing there (a region of its activation map, e.g. a lamp in a room photo)",
    )
    concept = serializers.CharField(
        allow_null=True,
        help_text="for a recognised region, the ImageNet concept it was found for (English, e.g. 'table lamp'): "
        "the model's guess of what it is, not a shop category; null for a salient object",
    )
    score = serializers.FloatField(
        help_text="salient: the object's share of what stands out in the photo (these add up to 1); recognised: "
        "the concept's probability for the whole photo"
    )
    results = ProductMatchOutputSerializer(many=True, help_text="products for this object alone (its crop)")


class SearchByImageOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    search_id = serializers.IntegerField(
        allow_null=True,
        help_text="this list in the shop's interaction log: send it with POST /api/v1/search/actions when your "
        "user opens, adds or buys a result, so the search learns from it (null when the log is off)",
    )
    box = BoxOutputSerializer(
        allow_null=True,
        help_text="the region the results are for: your crop, else the most prominent object found (searched "
        "together with the whole photo), else null for the whole photo",
    )
    results = ProductMatchOutputSerializer(many=True)
    objects = FoundObjectOutputSerializer(
        many=True,
        help_text="the separate objects found in the photo, each with its own results: the salient ones, most "
        "prominent first, then the regions the model recognised; empty for a crop. Send an object's box as the "
        "crop to search it alone.",
    )


class NearDuplicatesInputSerializer(serializers.Serializer):
    max_distance = FiniteFloatField(
        min_value=0,
        max_value=1,
        default=0.05,
        help_text="largest cosine distance (1 - similarity) to report; 0.05 finds re-encoded and slightly cropped copies",
    )
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class NearDuplicateOutputSerializer(serializers.Serializer):
    image_id = serializers.IntegerField(source="image.id")
    product_id = serializers.IntegerField(source="image.product_id")
    product_sku = serializers.CharField(source="image.product.sku")
    product_name = serializers.CharField(source="image.product.name")
    thumbnail_url = serializers.SerializerMethodField()
    distance = serializers.FloatField(help_text="cosine distance, 0 = same direction")
    similarity = serializers.FloatField()

    def get_thumbnail_url(self, match) -> str:
        return self.context["request"].build_absolute_uri(match.image.thumbnail.url)


class NearDuplicatesOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    image_id = serializers.IntegerField()
    results = NearDuplicateOutputSerializer(many=True)


class TextSearchInputSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=200, help_text="words in English or Chinese (\"sneaker\", 鞋, \"red lamp\")")
    category = CategorySlugField(required=False, help_text="category slug, any letter case (and its subcategories)")
    min_price = PriceField(required=False)
    max_price = PriceField(required=False)
    color = serializers.ChoiceField(choices=COLOUR_KEYS, required=False)
    in_stock = serializers.BooleanField(required=False, default=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=24)


class TextMatchOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(source="product.id")
    name = serializers.CharField(source="product.name")
    name_zh = serializers.CharField(source="product.name_zh")
    price = serializers.DecimalField(source="product.price", max_digits=12, decimal_places=2)
    currency = serializers.CharField(source="product.currency")
    url = serializers.SerializerMethodField()
    image_id = serializers.IntegerField(source="image.id", allow_null=True)
    image_url = serializers.SerializerMethodField()
    score = serializers.FloatField(help_text="the fused rank score results are ordered by (higher is better)")
    found_by = serializers.ListField(
        child=serializers.ChoiceField(choices=["words", "pictures"]),
        help_text="words: the product's text matches; pictures: its pictures show what the words name",
    )

    def get_url(self, match) -> str:
        return self.context["request"].build_absolute_uri(match.product.get_absolute_url())

    def get_image_url(self, match) -> str | None:
        if match.image is None:
            return None
        return self.context["request"].build_absolute_uri(match.image.thumbnail.url)


class ParsedQueryOutputSerializer(serializers.Serializer):
    concepts = serializers.ListField(child=serializers.CharField(), help_text="the words read as kinds of things")
    colours = serializers.ListField(child=serializers.CharField(), help_text="palette keys the words name")
    words = serializers.CharField(help_text="the other words, matched against the products' text")


class TextSearchOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    search_id = serializers.IntegerField(
        allow_null=True,
        help_text="this list in the shop's interaction log: send it with POST /api/v1/search/actions when your "
        "user opens, adds or buys a result, so the search learns from it (null when the log is off)",
    )
    query = ParsedQueryOutputSerializer()
    results = TextMatchOutputSerializer(many=True)


class CategorySuggestInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="The product's photo: JPEG, PNG, WebP, HEIC or AVIF, at most 25 MB")
    limit = serializers.IntegerField(min_value=1, max_value=10, default=3)


class CategorySuggestionOutputSerializer(serializers.Serializer):
    slug = serializers.CharField(source="category.slug")
    name = serializers.CharField(source="category.name")
    name_zh = serializers.CharField(source="category.name_zh")
    score = serializers.FloatField(help_text="the category's share of the nearest catalogue pictures' vote (0-1)")


class CategorySuggestOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    suggestions = CategorySuggestionOutputSerializer(many=True)


class SearchActionInputSerializer(serializers.Serializer):
    search_id = serializers.IntegerField(help_text="the search_id of a search this API key made")
    product_id = serializers.IntegerField(help_text="a product of that search's results")
    action = serializers.ChoiceField(choices=["open", "cart", "buy"],
                                     help_text="what your user did: opened it, added it to the cart, bought it")


class SearchActionOutputSerializer(serializers.Serializer):
    search_id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    action = serializers.CharField()
    rank = serializers.IntegerField(help_text="the product's position in that search's results, 1 first")
