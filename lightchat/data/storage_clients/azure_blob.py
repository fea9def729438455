"""Chainlit's ``AzureBlobStorageClient(container_name=..., storage_account=...,
storage_key=...)`` (``lightchat[azure]``)."""

from lightchat.storage.azure import AzureBlobStorageClient

__all__ = ["AzureBlobStorageClient"]
