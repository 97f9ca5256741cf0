from django.db import migrations

from visualsearch.querysets import hnsw_index_sql

# The default key when this migration was written (0005 adds the next default's index); frozen, as history.
DEFAULT_MODEL_KEY_THEN = "effnet-lite0-avg-224"


def index_create(apps, schema_editor):
    schema_editor.execute(hnsw_index_sql(model_key=DEFAULT_MODEL_KEY_THEN, dimension=1280))


class Migration(migrations.Migration):
    dependencies = [("visualsearch", "0001_initial")]
    operations = [migrations.RunPython(index_create, migrations.RunPython.noop)]
