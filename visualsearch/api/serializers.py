from decimal import Decimal

from rest_framework import serializers

from catalog.models import Category


class SearchByImageInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="The photo: JPEG, PNG or WebP, at most 25 MB")
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, help_text="category slug (and its subcategories)"
    )
    min_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)
    max_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=24)

    def validate(self, attrs):
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": "must not be above max_price"})
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
    similarity = serializers.FloatField(help_text="cosine similarity of the query and the matched image")

    def get_url(self, match) -> str:
        return self.context["request"].build_absolute_uri(match.product.get_absolute_url())

    def get_image_url(self, match) -> str:
        return self.context["request"].build_absolute_uri(match.image.thumbnail.url)


class SearchResultsOutputSerializer(serializers.Serializer):
    model_key = serializers.CharField()
    results = ProductMatchOutputSerializer(many=True)
