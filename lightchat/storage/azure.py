"""Element files in Azure Blob Storage (``lightchat[azure]``: azure-storage-blob).

>>> files = AzureBlobStorageClient("files", storage_account="acme", storage_key="...")

As Chainlit's ``AzureBlobStorageClient(container_name, storage_account, storage_key)``;
``account_url`` points it elsewhere than ``https://<account>.blob.core.windows.net`` (e.g.
Azurite, the local server). A file is sent as staged blocks, committed at its end, and
read in chunks; read URLs are SAS URLs signed with the account key.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import (
    BlobBlock,
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    generate_blob_sas,
)

from lightchat.files import DEFAULT_MAX_BYTES, MissingFileError
from lightchat.storage import BucketStorage, BucketWriter

__all__ = ["AzureBlobStorageClient"]


class _AzureWriter(BucketWriter):
    """One part held back: a file of one part is one upload, a larger one staged blocks
    committed as a list at the end (uncommitted blocks are never visible under the key)."""

    def __init__(self, blob: BlobClient, settings: ContentSettings) -> None:
        self.blob, self.settings = blob, settings
        self.pending: bytes | None = None
        self.blocks: list[BlobBlock] = []

    def _stage(self, body: bytes) -> None:
        block_id = base64.b64encode(f"{len(self.blocks):08d}".encode()).decode()
        self.blob.stage_block(block_id, body, length=len(body))
        self.blocks.append(BlobBlock(block_id=block_id))

    def write(self, chunk: bytes) -> None:
        if self.pending is not None:
            self._stage(self.pending)
        self.pending = chunk

    def commit(self) -> None:
        body = self.pending or b""
        self.pending = None
        if not self.blocks:
            self.blob.upload_blob(body, overwrite=True, content_settings=self.settings)
            return
        if body:
            self._stage(body)
        self.blob.commit_block_list(self.blocks, content_settings=self.settings)

    def abort(self) -> None:
        # Staged blocks that are never committed are not a blob; the service drops them.
        self.pending = None
        self.blocks = []


class AzureBlobStorageClient(BucketStorage):
    """Files in an Azure Blob Storage container (see ``lightchat.storage.BucketStorage``)."""

    service = "Azure"

    def __init__(
        self,
        container_name: str,
        storage_account: str,
        storage_key: str,
        *,
        account_url: str | None = None,
        prefix: str = "",
        max_bytes: int = DEFAULT_MAX_BYTES,
        chunk_size: int = 64 * 1024,
        signed_urls: bool = False,
        expiry_s: int | None = None,
    ) -> None:
        super().__init__(
            container_name,
            prefix=prefix,
            max_bytes=max_bytes,
            chunk_size=chunk_size,
            signed_urls=signed_urls,
            expiry_s=expiry_s,
        )
        self.storage_account = storage_account
        self.storage_key = storage_key
        self.service_client = BlobServiceClient(
            account_url=account_url or f"https://{storage_account}.blob.core.windows.net",
            credential={"account_name": storage_account, "account_key": storage_key},
            max_single_get_size=chunk_size,
            max_chunk_get_size=chunk_size,
        )
        self.container_client = self.service_client.get_container_client(container_name)

    def _blob(self, key: str) -> BlobClient:
        return self.container_client.get_blob_client(key)

    def _writer(self, key: str, mime: str, disposition: str | None) -> BucketWriter:
        settings = ContentSettings(content_type=mime, content_disposition=disposition)
        return _AzureWriter(self._blob(key), settings)

    def _reader(self, key: str) -> Iterator[bytes]:
        try:
            download = self._blob(key).download_blob()
        except ResourceNotFoundError:
            raise MissingFileError(f"No file {key!r}.") from None
        chunks: Iterator[bytes] = download.chunks()
        return chunks

    def _remove(self, key: str) -> bool:
        try:
            self._blob(key).delete_blob()
        except ResourceNotFoundError:
            return False
        return True

    def _signed_url(
        self, key: str, expiry_s: int, disposition: str | None, mime: str | None
    ) -> str:
        options: dict[str, Any] = {}
        if disposition:
            options["content_disposition"] = disposition
        if mime:
            options["content_type"] = mime
        token = generate_blob_sas(
            account_name=self.storage_account,
            container_name=self.bucket,
            blob_name=key,
            account_key=self.storage_key,
            permission=BlobSasPermissions(read=True),
            expiry=datetime.now(UTC) + timedelta(seconds=expiry_s),
            **options,
        )
        return f"{self._blob(key).url}?{token}"

    async def close(self) -> None:
        """Close the client's connections."""
        self.service_client.close()
