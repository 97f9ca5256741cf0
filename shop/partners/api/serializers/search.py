import math

from rest_framework import serializers

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


class SearchByImageInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="The photo: JPEG, PNG, WebP, HEIC or AVIF, at most 25 MB")
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


class ProductMatchOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(source="product.id")
    name = serializers.CharField(source="product.name")
    price = serializers.DecimalField(source="product.price", max_digits=12, decimal_places=2)
    currency = serializers.CharField(source="product.currency")
    url = serializers.SerializerMethodField()
    image_id = serializers.IntegerField(source="image.id")
    image_url = serializers.SerializerMethodField()
    similarity = serializers.FloatField(
        help_text="the score results are ranked by: cosine similarity of the query and the matched image (for a "
        "photo, in the shop's centred space: query minus the mean of recent queries, image minus the catalogue mean)"
    )
    close = serializers.BooleanField(
        help_text="true when the similarity reaches the model's calibrated close-match threshold: this is very "
        "likely the thing in the photo; false: only the nearest the shop has"
    )

    def get_url(self, match) -> str:
        return self.context["request"].build_absolute_uri(match.product.get_absolute_url())

    def get_image_url(self, match) -> str:
        return self.context["request"].build_absolute_uri(match.image.thumbnail.url)


class SearchResultsOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    results = ProductMatchOutputSerializer(many=True)


class BoxOutputSerializer(serializers.Serializer):
    x = serializers.FloatField(help_text="left edge, a fraction (0-1) of the photo's width, like crop_x")
    y = serializers.FloatField(help_text="top edge, a fraction of the height")
    width = serializers.FloatField()
    height = serializers.FloatField()


class FoundObjectOutputSerializer(serializers.Serializer):
    box = BoxOutputSerializer()
    score = serializers.FloatField(help_text="the object's share of what stands out in the photo (they add up to 1)")
    results = ProductMatchOutputSerializer(many=True, help_text="products for this object alone (its crop)")


class SearchByImageOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    box = BoxOutputSerializer(
        allow_null=True,
        help_text="the region the results are for: your crop, else the most prominent object found (searched "
        "together with the whole photo), else null for the whole photo",
    )
    results = ProductMatchOutputSerializer(many=True)
    objects = FoundObjectOutputSerializer(
        many=True,
        help_text="the separate objects found in the photo, most prominent first, each with its own results; "
        "empty for a crop or when nothing stands out. Send an object's box as the crop to search it alone.",
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
