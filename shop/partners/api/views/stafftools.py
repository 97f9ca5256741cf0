from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView


from shop.api.errors import ERROR_RESPONSES, ApiError, ErrorCode, ErrorOutputSerializer
from shop.stafftools.batches import expected_read, job_photos_read, listings_read
from shop.stafftools.errors import ErrorCode as StaffErrorCode
from shop.stafftools.errors import JobRejected
from shop.stafftools.identify import goods_identify
from shop.stafftools.models import IdentifyJob, JobKind, JobStatus, PhotoStatus

from ..serializers.search import MatchedVariantOutputSerializer
from shop.stafftools.selectors import delivery_report, outside_report
from shop.stafftools.services import identify_job_create

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
    variant = MatchedVariantOutputSerializer(
        source="match.image.variant", allow_null=True,
        help_text="the variant whose picture matched (its own SKU and stock), or null",
    )
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


class IdentifyJobInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=JobKind.choices)
    photos = serializers.ListField(
        child=serializers.FileField(), allow_empty=False,
        help_text="Photos, or zips of photos (a zip's refused member is listed in the report with its reason)",
    )
    listing = serializers.FileField(
        required=False, help_text="CSV: `sku,quantity` (delivery: what it should hold) or `file,title,price,url` (outside)"
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class SkuCountOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    expected = serializers.IntegerField()
    counted = serializers.IntegerField()
    difference = serializers.IntegerField()
    verdict = serializers.ChoiceField(choices=["as expected", "short", "over", "not expected"])


class CategoryCoverageOutputSerializer(serializers.Serializer):
    category = serializers.CharField()
    items = serializers.IntegerField()
    covered = serializers.IntegerField()
    median_price_difference = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


class JobMatchOutputSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    price = serializers.CharField()
    similarity = serializers.FloatField()
    close = serializers.BooleanField()


class JobPhotoOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=PhotoStatus.choices)
    error_code = serializers.CharField()
    error = serializers.CharField()
    close = serializers.BooleanField()
    matches = JobMatchOutputSerializer(many=True)
    title = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    url = serializers.CharField()
    likeness = serializers.FloatField(allow_null=True)
    reference_spread = serializers.FloatField(allow_null=True)
    unlike = serializers.BooleanField()


class IdentifyJobOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=JobKind.choices)
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    total = serializers.IntegerField(source="progress.total")
    pending = serializers.IntegerField(source="progress.pending")
    counts = SkuCountOutputSerializer(many=True, required=False, help_text="deliveries: per SKU against the list")
    categories = CategoryCoverageOutputSerializer(many=True, required=False, help_text="outside listings")
    photos = JobPhotoOutputSerializer(many=True)


def _job_out(job: IdentifyJob) -> dict:
    if job.kind == JobKind.DELIVERY:
        report = delivery_report(job=job)
        extra = {"counts": report.counts}
    else:
        report = outside_report(job=job)
        extra = {"categories": report.categories}
    return IdentifyJobOutputSerializer(
        {"id": job.id, "kind": job.kind, "title": job.title, "status": job.status, "created_at": job.created_at,
         "finished_at": job.finished_at, "progress": report.progress, "photos": list(job.photos.all()), **extra}
    ).data


class IdentifyJobCreateApi(APIView):
    """Start a batch identify job: a delivery's photos (with its expected `sku,quantity` list) or outside listings'
    photos (with `file,title,price,url`). Answers 202 with the job; read its report with `GET /identify/jobs/{id}`
    until `status` is `done`. Needs the write scope. A lone file the intake refuses gets its `image_*` code."""

    permission_classes = [KeyWrite]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=[TAG],
        request={"multipart/form-data": IdentifyJobInputSerializer},
        responses={202: IdentifyJobOutputSerializer, 403: ErrorOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        params = IdentifyJobInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            photos = job_photos_read(files=[(upload.name, upload.read()) for upload in data["photos"]])
            expected, listings = [], {}
            if "listing" in data:
                text = data["listing"].read().decode("utf-8-sig", errors="replace")
                if data["kind"] == JobKind.DELIVERY:
                    expected = expected_read(text)
                else:
                    listings = listings_read(text)
            job = identify_job_create(kind=data["kind"], photos=photos, title=data["title"], expected=expected,
                                      listings=listings, created_by=request.user)
        except JobRejected as error:
            field = "listing" if error.code in (StaffErrorCode.CSV_INVALID, StaffErrorCode.SKU_UNKNOWN) else "photos"
            raise ApiError(ErrorCode.INVALID, error.message, details={field: [error.message], "reason": error.code.value})
        return Response(_job_out(job), status=202)


class IdentifyJobDetailApi(APIView):
    """A batch identify job of this key's owner: its progress and its report so far. Needs the write scope."""

    permission_classes = [KeyWrite]

    @extend_schema(tags=[TAG], responses={200: IdentifyJobOutputSerializer, 404: ErrorOutputSerializer, **ERROR_RESPONSES})
    def get(self, request, job_id: int):
        job = IdentifyJob.objects.filter(id=job_id, created_by=request.user).first()
        if job is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such job of this API key's owner.", http_status=404)
        return Response(_job_out(job))
