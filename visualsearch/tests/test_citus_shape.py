"""Pictures and embeddings in the shape Citus distributes (migration 0007), checked on the suite's PostgreSQL: the
keys lead with product_id, every embedding carries its picture's product, and the k-NN query still walks the
HNSW index with the picture looked up by (product_id, id)."""

import numpy as np
import pytest
from django.db import IntegrityError, connection, transaction

from catalog.models import Product, ProductImage
from catalog.tests.factories import ProductFactory
from visualsearch import querysets
from visualsearch.models import ImageEmbedding
from visualsearch.services import embeddings_request


def _constraint(table: str, name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.conname = %s",
            [table, name],
        )
        return cursor.fetchone()[0]


def _picture(product: Product, n: int) -> ProductImage:
    return ProductImage.objects.create(
        product=product, image=f"p/{product.pk}-{n}.jpg", thumbnail=f"t/{product.pk}-{n}.jpg", width=10, height=10,
        content_hash=f"{product.pk}-{n}",
    )


@pytest.mark.django_db
def test_the_keys_lead_with_the_distribution_column():
    assert _constraint("catalog_productimage", "catalog_productimage_pkey") == "PRIMARY KEY (product_id, id)"
    assert _constraint("visualsearch_imageembedding", "visualsearch_imageembedding_pkey") == "PRIMARY KEY (product_id, id)"
    assert _constraint("visualsearch_imageembedding", "visualsearch_imageembedding_picture") == (
        "FOREIGN KEY (product_id, image_id) REFERENCES catalog_productimage(product_id, id) "
        "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
    )
    assert _constraint("visualsearch_imageembedding", "imageembedding_one_per_image_and_key") == (
        "UNIQUE (product_id, image_id, model_key)"
    )
    # No other constraint of the two tables is unique on a column set without product_id.
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid IN ('catalog_productimage'::regclass, 'visualsearch_imageembedding'::regclass)
                 AND contype IN ('p', 'u') AND pg_get_constraintdef(oid) NOT LIKE '%%(product_id, %%'"""
        )
        assert cursor.fetchall() == []


@pytest.mark.django_db
def test_embedding_rows_carry_their_pictures_product():
    first, second = ProductFactory(), ProductFactory()
    pictures = [_picture(first, 1), _picture(first, 2), _picture(second, 1)]
    pending = embeddings_request(image_ids=[p.pk for p in pictures], model_keys=["key-a", "key-b"], enqueue=False)

    rows = sorted(ImageEmbedding.objects.values_list("image_id", "product_id", "model_key", "status"))
    assert rows == sorted(
        (p.pk, p.product_id, key, "pending") for p in pictures for key in ("key-a", "key-b")
    )
    assert sorted(pending) == sorted(ImageEmbedding.objects.values_list("id", flat=True))
    # Asked again (and for one key more), only the missing rows are made.
    again = embeddings_request(image_ids=[pictures[0].pk], model_keys=["key-a", "key-c"], enqueue=False)
    assert ImageEmbedding.objects.count() == 7
    # Both its rows are pending: the one that existed and the one just made.
    assert sorted(again) == sorted(ImageEmbedding.objects.filter(image=pictures[0], model_key__in=["key-a", "key-c"])
                                   .values_list("id", flat=True))
    assert ImageEmbedding.objects.get(image=pictures[0], model_key="key-c").product_id == first.pk


@pytest.mark.django_db(transaction=True)  # the key is checked when the transaction commits (deferred, as Django's)
def test_an_embedding_whose_product_is_not_its_pictures_is_refused_and_nothing_is_written():
    first, second = ProductFactory(), ProductFactory()
    picture = _picture(first, 1)
    with pytest.raises(IntegrityError, match="visualsearch_imageembedding_picture"):
        with transaction.atomic():
            ImageEmbedding.objects.create(image=picture, product=second, model_key="key-a")
    assert ImageEmbedding.objects.count() == 0


@pytest.mark.django_db
def test_deleting_a_product_or_a_picture_deletes_their_embeddings():
    first, second = ProductFactory(), ProductFactory()
    kept, dropped, gone = _picture(first, 1), _picture(first, 2), _picture(second, 1)
    embeddings_request(image_ids=[kept.pk, dropped.pk, gone.pk], model_keys=["key-a"], enqueue=False)

    dropped.delete()
    second.delete()

    assert list(ImageEmbedding.objects.values_list("image_id", "product_id")) == [(kept.pk, first.pk)]
    assert list(ProductImage.objects.values_list("id", flat=True)) == [kept.pk]


DIM = 8


@pytest.fixture
def indexed_catalogue(db):
    """3,000 products of two pictures with an 8-d vector each, their key's own HNSW index, analysed."""
    rng = np.random.default_rng(5)
    category_a = ProductFactory().category
    category_b = ProductFactory(category__name="other").category
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO catalog_product (sku, name, name_zh, slug, description, description_zh, price, currency,
                   stock_quantity, is_published, category_id, created_at, updated_at)
               SELECT 'S' || g, 'p' || g, '', 's-' || g, '', '', 10, 'EUR', 1, true,
                      CASE WHEN g %% 10 = 0 THEN %s ELSE %s END, now(), now()
               FROM generate_series(1, 3000) g""",
            [category_a.pk, category_b.pk],
        )
        cursor.execute(
            """INSERT INTO catalog_productimage (product_id, kind, position, alt_text, image, thumbnail, width, height,
                   content_hash, created_at)
               SELECT p.id, 'catalogue', n, '', 'x.jpg', 'x-t.jpg', 10, 10, p.sku || '-' || n, now()
               FROM catalog_product p CROSS JOIN generate_series(0, 1) n WHERE p.sku LIKE 'S%%'"""
        )
    image_ids = list(ProductImage.objects.filter(product__sku__startswith="S").values_list("id", flat=True))
    embeddings_request(image_ids=image_ids, model_keys=["test-8"], enqueue=False)
    rows = list(ImageEmbedding.objects.filter(model_key="test-8").values_list("id", flat=True))
    vectors = rng.standard_normal((len(rows), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    querysets.embeddings_store_ready(rows=[(row, vector, None, None) for row, vector in zip(rows, vectors)])
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the rows' deferred key checks, before the DDL
        cursor.execute(querysets.hnsw_index_sql(model_key="test-8", dimension=DIM))
        cursor.execute("ANALYZE catalog_product; ANALYZE catalog_productimage; ANALYZE visualsearch_imageembedding")
    return category_a, rng.standard_normal(DIM).astype(np.float32)


def _plan(**filters) -> tuple[list[querysets.ImageHit], str]:
    arguments = {"model_key": "test-8", "dimension": DIM, "limit": 10, **filters}
    return querysets.knn_images(**arguments), "\n".join(querysets.knn_plan(**arguments))


@pytest.mark.django_db
def test_the_knn_query_walks_the_hnsw_index_and_looks_the_picture_up_by_its_key(indexed_catalogue):
    category, query = indexed_catalogue
    for filters in ({}, {"category_ids": [category.pk]}):
        hits, plan = _plan(vector=query, **filters)
        assert "Index Scan using imageembedding_hnsw_test_8" in plan, plan
        # The picture: a one-row lookup in the fenced subquery (by its id index here; on a Citus shard as well).
        assert "Subquery Scan on i" in plan and "Index Scan using catalog_productimage_" in plan, plan
        assert "Sort" not in plan, plan  # the walk is ordered: nothing sorts the table
        assert len(hits) == 10
        # The hits are the exact nearest pictures (cosine) among those the filter keeps, nearest first.
        rows = ImageEmbedding.objects.filter(model_key="test-8")
        if filters:
            rows = rows.filter(product__category_id=category.pk)
        vectors = {image: np.asarray(v, dtype=np.float32) for image, v in rows.values_list("image_id", "vector")}
        unit = query / np.linalg.norm(query)
        exact = sorted(vectors, key=lambda image: -float(vectors[image] @ unit))[:10]
        assert [hit.image_id for hit in hits] == exact
        products = dict(ProductImage.objects.filter(id__in=exact).values_list("id", "product_id"))
        assert [hit.product_id for hit in hits] == [products[image] for image in exact]


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_product_id_from_the_pictures_and_goes_back_cleanly():
    from django.db.migrations.executor import MigrationExecutor

    first, second = ProductFactory(), ProductFactory()
    pictures = [_picture(first, 1), _picture(second, 1), _picture(second, 2)]
    before, after = [("visualsearch", "0006_image_concepts")], [("visualsearch", "0007_citus_shape")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        assert _constraint("catalog_productimage", "catalog_productimage_pkey") == "PRIMARY KEY (id)"
        with connection.cursor() as cursor:  # rows as the shop wrote them before: no product_id column
            cursor.executemany(
                "INSERT INTO visualsearch_imageembedding (image_id, model_key, status, error, attempts, created_at, "
                "updated_at) VALUES (%s, 'key-a', 'pending', '', 0, now(), now())",
                [(p.pk,) for p in pictures],
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)

    assert sorted(ImageEmbedding.objects.values_list("image_id", "product_id")) == sorted(
        (p.pk, p.product_id) for p in pictures
    )
    assert _constraint("catalog_productimage", "catalog_productimage_pkey") == "PRIMARY KEY (product_id, id)"
