"""Chainlit's ``S3StorageClient(bucket=..., **boto3_client_options)`` (``lightchat[s3]``)."""

from lightchat.storage.s3 import S3StorageClient

__all__ = ["S3StorageClient"]
