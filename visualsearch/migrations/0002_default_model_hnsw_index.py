from django.db import migrations

from visualsearch.embedding import DEFAULT_MODEL_KEY, spec_for
from visualsearch.querysets import hnsw_index_sql


def index_create(apps, schema_editor):
    schema_editor.execute(hnsw_index_sql(model_key=DEFAULT_MODEL_KEY, dimension=spec_for(DEFAULT_MODEL_KEY).dimension))


class Migration(migrations.Migration):
    dependencies = [("visualsearch", "0001_initial")]
    operations = [migrations.RunPython(index_create, migrations.RunPython.noop)]
