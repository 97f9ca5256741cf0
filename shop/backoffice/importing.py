"""Catalogue import from a folder of images with an optional CSV: sku,name,category,price,description,image
(optional columns: stock, and the Chinese text name_zh, description_zh, category_zh as a path like 时尚/鞋).

Variants: a row with ``variant_sku`` and ``variant`` (its name: "Red", "XL") adds or updates that variant of the
row's product, with ``variant_zh``, ``variant_price`` (empty: the product's) and ``variant_stock``; the row's
image, if any, is the variant's picture (a size without its own picture leaves ``image`` empty).

Rows sharing a sku add several images to one product. Without a CSV every image becomes a product named after
its file, in a category named after its folder. Running the same import twice changes nothing: products are
matched by sku and images by the hash of their re-encoded content.
"""

from __future__ import annotations

import csv
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import IntegrityError, transaction

from catalog.services import (
    ProductData,
    VariantData,
    VariantMismatch,
    VariantSkuTaken,
    category_get_or_create_path,
    product_upsert_by_sku,
    product_variant_upsert_by_sku,
)
from visualsearch.errors import ImageRejected
from visualsearch.intake import IntakeResult, image_intake
from visualsearch.selectors import intake_limits
from visualsearch.services import embeddings_enqueue, product_image_add

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif"}
REQUIRED_COLUMNS = {"sku", "name", "category", "price", "image"}
INTAKE_THREADS = min(4, os.cpu_count() or 1)
"""Files are read, checked and re-encoded on this many threads (Pillow lets go of the GIL while it decodes,
resizes and encodes) while the main thread writes the rows in file order. bench/import_intake.py on this 2-core
machine: 7.5 images/s before, 28.4 now. Two threads beat one by 1.37x while the pictures were the bound; since
large JPEGs are decoded at a reduced scale (``intake.STORED_DRAFT_FLOOR``) the rows' own queries are, and one
thread or two give the same rate here; the pool still takes the pictures off the thread that writes."""
INTAKE_AHEAD = 2 * INTAKE_THREADS
"""How many rows' pictures are prepared ahead of the row being written: each holds a decoded picture (up to
2048 px, 12 MB), so the look-ahead is bounded, not the whole file."""


@dataclass(frozen=True)
class ImportRow:
    line: int
    sku: str
    name: str
    category: str
    price: Decimal
    description: str
    image: Path | None
    """None only on a variant's row without its own picture."""
    stock_quantity: int = 0
    name_zh: str = ""
    description_zh: str = ""
    category_zh: str = ""
    variant_sku: str = ""
    variant: str = ""
    variant_zh: str = ""
    variant_price: Decimal | None = None
    variant_stock: int = 0


@dataclass
class ImportReport:
    products_created: int = 0
    products_updated: int = 0
    variants_created: int = 0
    variants_updated: int = 0
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
            variant_sku, variant = (record.get("variant_sku") or "").strip(), (record.get("variant") or "").strip()
            if bool(variant_sku) != bool(variant):
                yield f"line {line}: a variant needs both variant_sku and variant (its name)"
                continue
            image_name = (record["image"] or "").strip()
            if not image_name and not variant_sku:
                yield f"line {line}: image is required (except on a variant's row)"
                continue
            variant_price_text = (record.get("variant_price") or "").strip()
            try:
                variant_price = Decimal(variant_price_text) if variant_price_text else None
                if variant_price is not None and (variant_price < 0 or not variant_price.is_finite()):
                    raise InvalidOperation
            except InvalidOperation:
                yield f"line {line}: variant_price {variant_price_text!r} is not a price"
                continue
            variant_stock = (record.get("variant_stock") or "").strip()
            yield ImportRow(
                line=line,
                sku=sku,
                name=name,
                category=(record["category"] or "").strip() or "Uncategorised",
                price=price,
                description=(record.get("description") or "").strip(),
                image=folder / image_name if image_name else None,
                stock_quantity=int(stock) if stock.isdigit() else 10,
                name_zh=(record.get("name_zh") or "").strip(),
                description_zh=(record.get("description_zh") or "").strip(),
                category_zh=(record.get("category_zh") or "").strip(),
                variant_sku=variant_sku,
                variant=variant,
                variant_zh=(record.get("variant_zh") or "").strip(),
                variant_price=variant_price,
                variant_stock=int(variant_stock) if variant_stock.isdigit() else 10,
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
    with ThreadPoolExecutor(max_workers=INTAKE_THREADS, thread_name_prefix="intake") as pool:
        for row, picture in _pictures_ahead(pool, rows):
            if isinstance(row, str):
                report.errors.append(row)
            else:
                _import_row(row, picture, report, first_of_sku=row.sku not in seen_skus)
                seen_skus.add(row.sku)
            if on_progress:
                on_progress()
    embeddings_enqueue(report.embedding_ids)  # full batches for the workers
    return report


_Picture = IntakeResult | OSError | ImageRejected | None
"""A row's picture as its thread left it: the intake's result, the error reading or checking the file, or None
(no picture on the row)."""


def _picture_prepare(row: ImportRow | str) -> _Picture:
    """Read, check and re-encode a row's file; no database here (this runs on the pool's threads)."""
    if isinstance(row, str) or row.image is None:
        return None
    try:
        return image_intake(row.image.read_bytes(), limits=intake_limits())
    except (OSError, ImageRejected) as error:
        return error


def _pictures_ahead(pool: ThreadPoolExecutor, rows: Iterable[ImportRow | str]) -> Iterator[tuple[ImportRow | str, _Picture]]:
    """Each row with its prepared picture, in the rows' order, at most ``INTAKE_AHEAD`` rows ahead."""
    pending: deque[tuple[ImportRow | str, Future]] = deque()
    for row in rows:
        pending.append((row, pool.submit(_picture_prepare, row)))
        if len(pending) > INTAKE_AHEAD:
            done_row, future = pending.popleft()
            yield done_row, future.result()
    while pending:
        done_row, future = pending.popleft()
        yield done_row, future.result()


def _import_row(row: ImportRow, picture: _Picture, report: ImportReport, *, first_of_sku: bool) -> None:
    if isinstance(picture, OSError):
        report.errors.append(f"line {row.line}: cannot read {row.image}: {picture.strerror}")
        return
    variant = variant_created = None
    pending_ids: list[int] = []  # the picture's embedding rows, reported only once the row has committed
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
            if row.variant_sku:
                variant, variant_created = product_variant_upsert_by_sku(product=product, data=VariantData(
                    sku=row.variant_sku, name=row.variant, name_zh=row.variant_zh, price=row.variant_price,
                    stock_quantity=row.variant_stock,
                ))
            added = False
            if isinstance(picture, ImageRejected):
                raise picture  # where product_image_add would have raised it: the row rolls back whole
            if picture is not None:
                alt = f"{row.name}, {row.variant}" if variant is not None else row.name
                image, added = product_image_add(product=product, intake=picture, alt_text=alt, enqueue=False,
                                                 variant=variant, pending_ids=pending_ids)
    except ImageRejected as error:
        report.errors.append(f"line {row.line}: {row.image.name}: {error.message}")
        return
    except (VariantMismatch, VariantSkuTaken) as error:
        report.errors.append(f"line {row.line}: the SKU {error} is another product's or a product's own SKU")
        return
    except IntegrityError:
        report.errors.append(f"line {row.line}: {row.sku} already has a variant named {row.variant!r}")
        return
    if variant_created:
        report.variants_created += 1
    elif variant is not None:
        report.variants_updated += 1
    if created:
        report.products_created += 1
    elif first_of_sku:
        report.products_updated += 1
    if added:
        report.images_added += 1
        report.embedding_ids.extend(pending_ids)
    elif picture is not None:
        report.images_unchanged += 1
