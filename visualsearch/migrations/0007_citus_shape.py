"""Pictures and embeddings in the shape Citus distributes: every embedding carries its picture's product, and
both tables' keys lead with ``product_id``.

On Citus (DEVELOPERS.md, ``bench/citus.py``) products are distributed by ``id`` and pictures and embeddings by
``product_id``, co-located with them; Citus enforces a primary key, a unique constraint or a foreign key only
when it includes the distribution column. So, on plain PostgreSQL and Citus alike:

- ``visualsearch_imageembedding.product_id`` (filled from the pictures here, by the services afterwards);
- primary keys ``(product_id, id)`` for both tables, with a plain index on ``id`` for Django's lookups by id
  (Django still sees ``id`` as the primary key: it is unique by its identity sequence, and the admin and every
  ``.get(pk=...)`` keep working, which a ``CompositePrimaryKey`` would not give in Django 5.2's admin);
- the embedding's foreign key to its picture as ``(product_id, image_id)`` -> ``(product_id, id)``;
- one row per picture and key: ``UNIQUE (product_id, image_id, model_key)``.
"""

from django.db import migrations, models
import django.db.models.deletion

FORWARD = """
ALTER TABLE visualsearch_imageembedding DROP CONSTRAINT visualsearch_imageembedding_pkey;
ALTER TABLE visualsearch_imageembedding ADD CONSTRAINT visualsearch_imageembedding_pkey PRIMARY KEY (product_id, id);
CREATE INDEX visualsearch_imageembedding_id ON visualsearch_imageembedding (id);
ALTER TABLE catalog_productimage DROP CONSTRAINT catalog_productimage_pkey;
ALTER TABLE catalog_productimage ADD CONSTRAINT catalog_productimage_pkey PRIMARY KEY (product_id, id);
CREATE INDEX catalog_productimage_id ON catalog_productimage (id);
ALTER TABLE visualsearch_imageembedding ADD CONSTRAINT visualsearch_imageembedding_picture
    FOREIGN KEY (product_id, image_id) REFERENCES catalog_productimage (product_id, id)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
"""

BACKWARD = """
ALTER TABLE visualsearch_imageembedding DROP CONSTRAINT visualsearch_imageembedding_picture;
DROP INDEX catalog_productimage_id;
ALTER TABLE catalog_productimage DROP CONSTRAINT catalog_productimage_pkey;
ALTER TABLE catalog_productimage ADD CONSTRAINT catalog_productimage_pkey PRIMARY KEY (id);
DROP INDEX visualsearch_imageembedding_id;
ALTER TABLE visualsearch_imageembedding DROP CONSTRAINT visualsearch_imageembedding_pkey;
ALTER TABLE visualsearch_imageembedding ADD CONSTRAINT visualsearch_imageembedding_pkey PRIMARY KEY (id);
"""


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0005_product_variants"),
        ("visualsearch", "0006_image_concepts"),
    ]

    operations = [
        migrations.AddField(
            model_name="imageembedding",
            name="product",
            field=models.ForeignKey(
                db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+",
                to="catalog.product",
            ),
        ),
        migrations.RunSQL(
            "UPDATE visualsearch_imageembedding e SET product_id = i.product_id "
            "FROM catalog_productimage i WHERE i.id = e.image_id; "
            # the new foreign key's deferred checks now, or the ALTER TABLEs below find "pending trigger events"
            "SET CONSTRAINTS ALL IMMEDIATE",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="imageembedding",
            name="product",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.product"
            ),
        ),
        migrations.AlterField(
            model_name="imageembedding",
            name="image",
            field=models.ForeignKey(
                db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name="embeddings",
                to="catalog.productimage",
            ),
        ),
        migrations.RemoveConstraint(model_name="imageembedding", name="imageembedding_one_per_image_and_key"),
        migrations.AddConstraint(
            model_name="imageembedding",
            constraint=models.UniqueConstraint(
                fields=("product", "image", "model_key"), name="imageembedding_one_per_image_and_key"
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
