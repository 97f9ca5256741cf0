"""Catalogue import from a folder of images with an optional CSV: sku,name,category,price,description,image
(optional columns: stock, and the Chinese text name_zh, description_zh, category_zh as a path like 时尚/鞋).

Rows sharing a sku add several images to one product. Without a CSV every image becomes a product named after
its file, in a category named after its folder. Running the same import twice changes nothing: products are
matched by sku and images by the hash of their re-encoded content.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from catalog.services import ProductData, category_get_or_create_path, product_upsert_by_sku
from visualsearch.errors import ImageRejected
from visualsearch.services import embeddings_enqueue, product_image_add

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif"}
REQUIRED_COLUMNS = {"sku", "name", "category", "price", "image"}


@dataclass(frozen=True)
class ImportRow:
    line: int
    sku: str
    name: str
    category: str
    price: Decimal
    description: str
    image: Path
    stock_quantity: int = 0
    name_zh: str = ""
    description_zh: str = ""
    category_zh: str = ""


@dataclass
class ImportReport:
    products_created: int = 0
    products_updated: int = 0
    images_added: int = 0
    images_unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    embedding_ids: list[int] = field(default_factory=list)


class CatalogFileError(ValueError):
    """The CSV itself is unusable (missing columns); nothing was imported."""


def rows_from_csv(csv_path: Path, folder: Path) -> Iterator[ImportRow | str]:
    """Rows of the CSV, or an error message string for a row that cannot be used."""
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = REQUIRED_COLUMNS - set(reader.fieldnames or [])
        if missing:
            raise CatalogFileError(f"{csv_path.name} lacks the column(s): {', '.join(sorted(missing))}")
        for line, record in enumerate(reader, start=2):
            try:
                price = Decimal(record["price"].strip())
                if price < 0:
                    raise InvalidOperation
            except (InvalidOperation, AttributeError):
                yield f"line {line}: price {record['price']!r} is not a price"
                continue
            sku, name = (record["sku"] or "").strip(), (record["name"] or "").strip()
            if not sku or not name:
                yield f"line {line}: sku and name are required"
                continue
            stock = (record.get("stock") or "").strip()
            yield ImportRow(
                line=line,
                sku=sku,
                name=name,
                category=(record["category"] or "").strip() or "Uncategorised",
                price=price,
                description=(record.get("description") or "").strip(),
                image=folder / (record["image"] or "").strip(),
                stock_quantity=int(stock) if stock.isdigit() else 10,
                name_zh=(record.get("name_zh") or "").strip(),
                description_zh=(record.get("description_zh") or "").strip(),
                category_zh=(record.get("category_zh") or "").strip(),
            )


def rows_from_folder(folder: Path) -> Iterator[ImportRow]:
    for line, path in enumerate(sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES), 1):
        relative = path.relative_to(folder)
        category = "/".join(part.replace("_", " ").title() for part in relative.parent.parts) or "Uncategorised"
        yield ImportRow(
            line=line,
            sku=str(relative.with_suffix("")).replace("/", "-"),
            name=path.stem.replace("_", " ").replace("-", " ").strip().title(),
            category=category,
            price=Decimal("0.00"),
            description="",
            image=path,
        )


def catalog_import(
    *, folder: Path, csv_path: Path | None = None, on_progress: Callable[[], None] | None = None
) -> ImportReport:
    report = ImportReport()
    rows = list(rows_from_csv(csv_path, folder) if csv_path else rows_from_folder(folder))
    seen_skus: set[str] = set()
    for row in rows:
        if isinstance(row, str):
            report.errors.append(row)
        else:
            _import_row(row, report, first_of_sku=row.sku not in seen_skus)
            seen_skus.add(row.sku)
        if on_progress:
            on_progress()
    embeddings_enqueue(report.embedding_ids)  # full batches for the workers
    return report


def _import_row(row: ImportRow, report: ImportReport, *, first_of_sku: bool) -> None:
    try:
        data = row.image.read_bytes()
    except OSError as error:
        report.errors.append(f"line {row.line}: cannot read {row.image}: {error.strerror}")
        return
    try:
        with transaction.atomic():  # a row whose photo is refused leaves no product behind
            category = category_get_or_create_path(path=row.category, path_zh=row.category_zh)
            product, created = product_upsert_by_sku(
                data=ProductData(
                    sku=row.sku,
                    name=row.name,
                    category=category,
                    price=row.price,
                    description=row.description,
                    stock_quantity=row.stock_quantity,
                    name_zh=row.name_zh,
                    description_zh=row.description_zh,
                )
            )
            image, added = product_image_add(product=product, data=data, alt_text=row.name, enqueue=False)
    except ImageRejected as error:
        report.errors.append(f"line {row.line}: {row.image.name}: {error.message}")
        return
    if created:
        report.products_created += 1
    elif first_of_sku:
        report.products_updated += 1
    if added:
        report.images_added += 1
        report.embedding_ids.extend(image.embeddings.filter(status="pending").values_list("id", flat=True))
    else:
        report.images_unchanged += 1
