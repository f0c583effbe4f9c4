"""Optuna's own tables (studies, trials, ...) in the same database, made once here rather than by
whichever process first opens a study (two doing it at once could collide). Outside a transaction:
on SQLite, Optuna's separate connection would otherwise wait for this migration's write lock."""

from django.db import migrations


def create_optuna_tables(apps, schema_editor):
    from experiments.studies import create_tables

    if schema_editor.connection.alias == "default":
        create_tables(schema_editor.connection.settings_dict)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("experiments", "0001_initial")]

    operations = [migrations.RunPython(create_optuna_tables, migrations.RunPython.noop)]
