"""One Alembic script per schema version, oldest first: ``v<revision>_<what>.py``."""
