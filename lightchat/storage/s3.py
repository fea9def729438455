"""Element files in Amazon S3 or a store that speaks its API (``lightchat[s3]``: boto3).

>>> files = S3StorageClient("my-bucket", region_name="eu-west-1")
>>> files = S3StorageClient("files", endpoint_url="http://127.0.0.1:9000")  # S3-compatible

As Chainlit's ``S3StorageClient(bucket=..., **kwargs)``: the keyword arguments lightchat
does not take itself go to ``boto3.client("s3", ...)``. A file is sent in parts
(multipart upload, 5 MiB each) and read in chunks of the object's body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

from lightchat.files import DEFAULT_MAX_BYTES, MissingFileError
from lightchat.storage import BucketStorage, BucketWriter

__all__ = ["S3StorageClient"]

_MISSING = {"NoSuchKey", "404", "NotFound"}


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


class _S3Writer(BucketWriter):
    """One part held back, so that a file of one part is one ``put_object`` and a larger
    one a multipart upload whose parts (all but the last) have S3's smallest size."""

    def __init__(self, client: Any, bucket: str, key: str, extra: dict[str, str]) -> None:
        self.client, self.bucket, self.key, self.extra = client, bucket, key, extra
        self.pending: bytes | None = None
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _upload(self, body: bytes) -> None:
        if self.upload_id is None:
            started = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, **self.extra
            )
            self.upload_id = started["UploadId"]
        number = len(self.parts) + 1
        sent = self.client.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=body,
        )
        self.parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def write(self, chunk: bytes) -> None:
        if self.pending is not None:
            self._upload(self.pending)
        self.pending = chunk

    def commit(self) -> None:
        body = self.pending or b""
        self.pending = None
        if self.upload_id is None:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=body, **self.extra)
            return
        if body:
            self._upload(body)
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )
        self.upload_id = None

    def abort(self) -> None:
        self.pending = None
        if self.upload_id is not None:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
            self.upload_id = None


class S3StorageClient(BucketStorage):
    """Files in an S3 bucket (see ``lightchat.storage.BucketStorage`` for the options)."""

    service = "S3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        max_bytes: int = DEFAULT_MAX_BYTES,
        chunk_size: int = 64 * 1024,
        signed_urls: bool = False,
        expiry_s: int | None = None,
        client: Any = None,
        **client_options: Any,
    ) -> None:
        """``client``: a boto3 S3 client of the app's; else one made with
        ``client_options`` (``region_name``, ``endpoint_url``, ``aws_access_key_id``...)."""
        super().__init__(
            bucket,
            prefix=prefix,
            max_bytes=max_bytes,
            chunk_size=chunk_size,
            signed_urls=signed_urls,
            expiry_s=expiry_s,
        )
        options = {name: value for name, value in client_options.items() if value is not None}
        self.client = client if client is not None else boto3.client("s3", **options)

    def _writer(self, key: str, mime: str, disposition: str | None) -> BucketWriter:
        extra = {"ContentType": mime}
        if disposition:
            extra["ContentDisposition"] = disposition
        return _S3Writer(self.client, self.bucket, key, extra)

    def _reader(self, key: str) -> Iterator[bytes]:
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                raise MissingFileError(f"No file {key!r}.") from None
            raise
        body = found["Body"]
        return _Chunks(body, self.chunk_size)

    def _remove(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return False
            raise
        self.client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def _signed_url(
        self, key: str, expiry_s: int, disposition: str | None, mime: str | None
    ) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        if disposition:
            params["ResponseContentDisposition"] = disposition
        if mime:
            params["ResponseContentType"] = mime
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expiry_s
        )
        return url

    async def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


class _Chunks(Iterator[bytes]):
    """An object's body in chunks, closed with the iterator (the connection goes back)."""

    def __init__(self, body: Any, size: int) -> None:
        self.body = body
        self.chunks = body.iter_chunks(size)

    def __next__(self) -> bytes:
        chunk: bytes = next(self.chunks)
        return chunk

    def close(self) -> None:
        self.body.close()
