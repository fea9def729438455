"""Chainlit's ``GCSStorageClient(bucket_name=..., project_id=..., client_email=...,
private_key=...)`` (``lightchat[gcs]``)."""

from lightchat.storage.gcs import GCSStorageClient

__all__ = ["GCSStorageClient"]
