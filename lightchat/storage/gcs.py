"""Element files in Google Cloud Storage (``lightchat[gcs]``: google-cloud-storage).

>>> files = GCSStorageClient("my-bucket", project_id="acme")  # Application Default Credentials

As Chainlit's ``GCSStorageClient(bucket_name, project_id, client_email, private_key)``:
with all three, the service account's key signs in (and signs read URLs); otherwise the
Application Default Credentials do. With ``STORAGE_EMULATOR_HOST`` set (the library's
variable for a local emulator), it signs in anonymously. A file is sent as a resumable
upload, in parts, and read in ranges of ``chunk_size`` bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from google.api_core.exceptions import NotFound
from google.auth import default
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import service_account

from lightchat.files import DEFAULT_MAX_BYTES, MissingFileError
from lightchat.storage import BucketStorage, BucketWriter

__all__ = ["GCSStorageClient"]


class _GCSWriter(BucketWriter):
    """A resumable upload: each part is sent as it comes; the object exists once the
    upload is closed (an upload left open is never an object)."""

    def __init__(self, blob: Any, mime: str, part_size: int) -> None:
        self.handle = blob.open("wb", content_type=mime, chunk_size=part_size, ignore_flush=True)

    def write(self, chunk: bytes) -> None:
        self.handle.write(chunk)

    def commit(self) -> None:
        self.handle.close()

    def abort(self) -> None:
        # The resumable upload is cancelled, never finished: no object is made (a writer
        # merely dropped would be closed, and so finished, when collected).
        self.handle.terminate()


class _Ranges(Iterator[bytes]):
    def __init__(self, reader: Any, size: int) -> None:
        self.reader, self.size = reader, size

    def __next__(self) -> bytes:
        chunk: bytes = self.reader.read(self.size)
        if not chunk:
            raise StopIteration
        return chunk

    def close(self) -> None:
        self.reader.close()


class GCSStorageClient(BucketStorage):
    """Files in a Google Cloud Storage bucket (see ``lightchat.storage.BucketStorage``)."""

    service = "Google Cloud Storage"
    part_size = 5 * 1024 * 1024  # a multiple of 256 KiB, as resumable uploads need

    def __init__(
        self,
        bucket_name: str,
        project_id: str | None = None,
        client_email: str | None = None,
        private_key: str | None = None,
        *,
        client: Any = None,
        prefix: str = "",
        max_bytes: int = DEFAULT_MAX_BYTES,
        chunk_size: int = 256 * 1024,
        signed_urls: bool = False,
        expiry_s: int | None = None,
    ) -> None:
        """``client``: a ``google.cloud.storage.Client`` of the app's; else one made from
        the arguments (see the module)."""
        super().__init__(
            bucket_name,
            prefix=prefix,
            max_bytes=max_bytes,
            chunk_size=chunk_size,
            signed_urls=signed_urls,
            expiry_s=expiry_s,
        )
        if client is None:
            credentials: Any
            if client_email and private_key and project_id:
                credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    {
                        "type": "service_account",
                        "project_id": project_id,
                        "private_key": private_key.replace("\\n", "\n"),
                        "client_email": client_email,
                        "token_uri": "https://oauth2.googleapis.com/token",
                    }
                )
            elif os.environ.get("STORAGE_EMULATOR_HOST"):
                credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
            else:
                credentials, found_project = default()
                project_id = project_id or found_project
            client = storage.Client(project=project_id, credentials=credentials)
        self.client = client
        self.bucket_client = client.bucket(bucket_name)

    def _writer(self, key: str, mime: str, disposition: str | None) -> BucketWriter:
        blob = self.bucket_client.blob(key)
        if disposition:
            blob.content_disposition = disposition
        return _GCSWriter(blob, mime, self.part_size)

    def _reader(self, key: str) -> Iterator[bytes]:
        blob = self.bucket_client.blob(key)
        try:
            blob.reload()
        except NotFound:
            raise MissingFileError(f"No file {key!r}.") from None
        if not blob.size:
            return iter(())
        return _Ranges(blob.open("rb", chunk_size=self.chunk_size), self.chunk_size)

    def _remove(self, key: str) -> bool:
        try:
            self.bucket_client.blob(key).delete()
        except NotFound:
            return False
        return True

    def _signed_url(
        self, key: str, expiry_s: int, disposition: str | None, mime: str | None
    ) -> str:
        url: str = self.bucket_client.blob(key).generate_signed_url(
            version="v4",
            expiration=timedelta(seconds=expiry_s),
            method="GET",
            response_disposition=disposition,
            response_type=mime,
        )
        return url

    async def close(self) -> None:
        """Close the client's connections."""
        self.client.close()
