"""Alembic's environment for the shop app: online migrations, with the app's own database settings."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine

from main import database_url

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name)

with create_engine(database_url()).connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
