"""The benchmarks' own database: created when missing, migrated, and Django set up on it."""

from __future__ import annotations


def prepare(database_url: str) -> None:
    """Create the database named by `database_url` if needed, then set Django up and migrate it.
    The caller sets the environment (DJANGO_SETTINGS_MODULE, DATABASE_URL, ...) first."""
    import psycopg

    admin, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
