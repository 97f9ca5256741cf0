"""Reads of the staff tools: a batch job's progress and its report (a delivery counted against its expected
list, or outside listings against the catalogue), and the report as CSV."""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from decimal import Decimal

from .models import IdentifyJob, IdentifyJobPhoto, JobKind, PhotoStatus

EXPORTS: dict[str, tuple[str, ...]] = {
    JobKind.DELIVERY.value: ("counts", "photos"), JobKind.OUTSIDE.value: ("listings", "categories"),
}


@dataclass(frozen=True)
class JobProgress:
    total: int
    pending: int
    done: int
    failed: int
    refused: int

    @property
    def settled(self) -> int:
        return self.total - self.pending

    @property
    def percent(self) -> int:
        return 100 * self.settled // self.total if self.total else 100


def job_progress(*, job: IdentifyJob) -> JobProgress:
    counts = {status: 0 for status in PhotoStatus.values}
    for status in job.photos.values_list("status", flat=True):
        counts[status] += 1
    return JobProgress(total=sum(counts.values()), pending=counts[PhotoStatus.PENDING], done=counts[PhotoStatus.DONE],
                       failed=counts[PhotoStatus.FAILED], refused=counts[PhotoStatus.REFUSED])


def jobs_list(*, kind: str | None = None, created_by=None) -> list[tuple[IdentifyJob, JobProgress]]:
    jobs = IdentifyJob.objects.all()
    if kind:
        jobs = jobs.filter(kind=kind)
    if created_by is not None:
        jobs = jobs.filter(created_by=created_by)
    return [(job, job_progress(job=job)) for job in jobs[:100]]


@dataclass(frozen=True)
class SkuCount:
    sku: str
    name: str
    expected: int
    counted: int

    @property
    def difference(self) -> int:
        return self.counted - self.expected

    @property
    def verdict(self) -> str:
        if self.expected == 0:
            return "not expected"
        if self.counted == self.expected:
            return "as expected"
        return "short" if self.counted < self.expected else "over"


@dataclass(frozen=True)
class DeliveryReport:
    job: IdentifyJob
    progress: JobProgress
    counts: list[SkuCount]
    """Every SKU expected (the list's order) or counted (then by SKU)."""
    unmatched: list[IdentifyJobPhoto]
    """Searched, but no product is a close match."""
    unlike: list[IdentifyJobPhoto]
    """Matched, yet less alike the product's own pictures than they are to each other."""
    refused: list[IdentifyJobPhoto]
    failed: list[IdentifyJobPhoto]
    photos: list[IdentifyJobPhoto]

    @property
    def off(self) -> list[SkuCount]:
        """SKUs counted that were not expected, or counted more or fewer times than expected."""
        return [c for c in self.counts if c.verdict != "as expected"]


def delivery_report(*, job: IdentifyJob) -> DeliveryReport:
    photos = list(job.photos.all())
    counted: dict[str, int] = {}
    names: dict[str, str] = {}
    for photo in photos:
        if photo.status == PhotoStatus.DONE and photo.close:
            counted[photo.first["sku"]] = counted.get(photo.first["sku"], 0) + 1
            names[photo.first["sku"]] = photo.first["name"]
    expected = {line["sku"]: line["quantity"] for line in job.expected}
    if expected:
        from catalog.models import Product, ProductVariant

        names.update(dict(Product.objects.filter(sku__in=expected).values_list("sku", "name")))
        names.update({sku: f"{product}, {variant}" for sku, product, variant in ProductVariant.objects.filter(
            sku__in=expected).values_list("sku", "product__name", "name")})
    order = list(expected) + sorted(sku for sku in counted if sku not in expected)
    return DeliveryReport(
        job=job,
        progress=job_progress(job=job),
        counts=[SkuCount(sku=sku, name=names.get(sku, ""), expected=expected.get(sku, 0), counted=counted.get(sku, 0))
                for sku in order],
        unmatched=[p for p in photos if p.status == PhotoStatus.DONE and not p.close],
        unlike=[p for p in photos if p.status == PhotoStatus.DONE and p.unlike],
        refused=[p for p in photos if p.status == PhotoStatus.REFUSED],
        failed=[p for p in photos if p.status == PhotoStatus.FAILED],
        photos=photos,
    )


@dataclass(frozen=True)
class OutsideItem:
    photo: IdentifyJobPhoto

    @property
    def first(self) -> dict | None:
        return self.photo.first

    @property
    def category(self) -> str:
        """The category of the closest own product: the shop's best guess at what the outside item is."""
        return self.first["category"] if self.first else ""

    @property
    def price_difference(self) -> Decimal | None:
        """The listing's price minus our closest product's (positive: they are dearer); None without a close match
        (a price against a product that is something else says nothing)."""
        if self.photo.price is None or not self.first or not self.photo.close:
            return None
        return self.photo.price - Decimal(self.first["price"])


@dataclass(frozen=True)
class CategoryCoverage:
    category: str
    items: int
    covered: int
    """Outside items with a close match among our products."""
    median_price_difference: Decimal | None
    """Over the covered items with a price: positive, they are dearer than we are."""


@dataclass(frozen=True)
class OutsideReport:
    job: IdentifyJob
    progress: JobProgress
    items: list[OutsideItem]
    """Every listing searched, in upload order."""
    categories: list[CategoryCoverage]
    refused: list[IdentifyJobPhoto]
    failed: list[IdentifyJobPhoto]

    @property
    def gaps(self) -> list[OutsideItem]:
        """Outside items without a close match: what the shop does not sell."""
        return [item for item in self.items if not item.photo.close]


def _median(values: list[Decimal]) -> Decimal | None:
    return Decimal(statistics.median(values)).quantize(Decimal("0.01")) if values else None


def outside_report(*, job: IdentifyJob) -> OutsideReport:
    photos = list(job.photos.all())
    items = [OutsideItem(photo=p) for p in photos if p.status == PhotoStatus.DONE]
    by_category: dict[str, list[OutsideItem]] = {}
    for item in items:
        by_category.setdefault(item.category, []).append(item)
    categories = [
        CategoryCoverage(
            category=name, items=len(group), covered=sum(1 for i in group if i.photo.close),
            median_price_difference=_median([i.price_difference for i in group if i.price_difference is not None]),
        )
        for name, group in sorted(by_category.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    return OutsideReport(
        job=job, progress=job_progress(job=job), items=items, categories=categories,
        refused=[p for p in photos if p.status == PhotoStatus.REFUSED],
        failed=[p for p in photos if p.status == PhotoStatus.FAILED],
    )


def _text(value) -> str:
    return "" if value is None else str(value)


def report_csv(*, job: IdentifyJob, table: str) -> str:
    """One table of the job's report as CSV; ``table`` is one of ``EXPORTS[job.kind]`` (ValueError otherwise)."""
    if table not in EXPORTS[job.kind]:
        raise ValueError(table)
    out = io.StringIO()
    writer = csv.writer(out)
    if table == "counts":
        writer.writerow(["sku", "name", "expected", "counted", "difference", "verdict"])
        for c in delivery_report(job=job).counts:
            writer.writerow([c.sku, c.name, c.expected, c.counted, c.difference, c.verdict])
    elif table == "photos":
        writer.writerow(["file", "status", "sku", "name", "similarity", "close", "likeness", "reference_spread",
                         "unlike", "error"])
        for p in job.photos.all():
            first = p.first or {}
            writer.writerow([p.name, p.status, first.get("sku", ""), first.get("name", ""),
                             _text(first.get("similarity")), p.close if p.status == PhotoStatus.DONE else "",
                             _text(p.likeness), _text(p.reference_spread), p.unlike if p.status == PhotoStatus.DONE else "",
                             p.error])
    elif table == "listings":
        report = outside_report(job=job)
        writer.writerow(["file", "title", "price", "url", "close", "sku", "name", "category", "our_price",
                         "similarity", "price_difference", "second_sku", "second_similarity"])
        for item in report.items:
            p, first = item.photo, item.first or {}
            second = p.matches[1] if len(p.matches) > 1 else {}
            writer.writerow([p.name, p.title, _text(p.price), p.url, p.close, first.get("sku", ""), first.get("name", ""),
                             first.get("category", ""), first.get("price", ""), _text(first.get("similarity")),
                             _text(item.price_difference), second.get("sku", ""), _text(second.get("similarity"))])
        for p in report.refused + report.failed:
            writer.writerow([p.name, p.title, _text(p.price), p.url, "", "", "", "", "", "", "", "", ""])
    else:
        writer.writerow(["category", "outside_items", "covered", "median_price_difference"])
        for c in outside_report(job=job).categories:
            writer.writerow([c.category, c.items, c.covered, _text(c.median_price_difference)])
    return out.getvalue()
