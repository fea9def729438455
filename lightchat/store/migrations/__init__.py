"""lightchat's schema migrations (Alembic scripts, run by ``lightchat.store.migrate``)."""
