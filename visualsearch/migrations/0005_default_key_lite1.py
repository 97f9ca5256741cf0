"""The default key becomes effnet-lite1-avg-240 (December 2026). A fresh shop starts on it; a shop that already
has vectors keeps the key it searches with (pinned here as its active version) until staff move it with the
model-version flow (register, backfill, switch), so no search ever compares vectors of two keys."""

from django.db import migrations
from django.utils import timezone

from visualsearch.querysets import hnsw_index_sql

OLD_DEFAULT, NEW_DEFAULT = "effnet-lite0-avg-224", "effnet-lite1-avg-240"


def forwards(apps, schema_editor):
    ModelVersion = apps.get_model("visualsearch", "ModelVersion")
    ImageEmbedding = apps.get_model("visualsearch", "ImageEmbedding")
    schema_editor.execute(hnsw_index_sql(model_key=NEW_DEFAULT, dimension=1280))
    if ModelVersion.objects.filter(is_active=True).exists():
        return  # the shop chose its key already
    if ImageEmbedding.objects.filter(model_key=OLD_DEFAULT).exists():
        version, _ = ModelVersion.objects.get_or_create(key=OLD_DEFAULT)
        ModelVersion.objects.filter(id=version.id).update(is_active=True, activated_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("visualsearch", "0004_vector_statistics")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
