"""The console's store: SQLAlchemy models, the engine and Alembic migrations."""

from console.store.db import Store

__all__ = ["Store"]
