"""Two real ``lightchat serve`` workers sharing one Redis, one PostgreSQL database and one
S3 bucket (moto's server on loopback), each with a folder of its own: a file uploaded to a
chat on one worker is served by the other from the bucket, to the chat's browser only.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import redis

from tests.helpers import REDIS_URL, ROOT, LightchatServe, Server
from tests.pg import postgres_database
from tests.storage_servers import Endpoint, moto_s3

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(90),
    pytest.mark.services,
    pytest.mark.processes,
]

APP = ROOT / "tests" / "e2e" / "apps" / "cluster_app.py"
WAIT_S = 20.0


def _redis_answers() -> bool:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1) as client:
            client.ping()
    except redis.exceptions.RedisError:
        return False
    return True


@pytest.fixture(scope="module")
def s3_server() -> Iterator[Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


def bucket_client(endpoint: Endpoint) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def workers(
    tmp_path: Path, lightchat_serve: LightchatServe, s3_server: Endpoint
) -> Iterator[tuple[Server, Server, str]]:
    """Two workers of the cluster app, each in its own folder, sharing a new bucket: the
    workers and the bucket's name."""
    if not _redis_answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    bucket = f"shared-{uuid.uuid4().hex[:12]}"
    client = bucket_client(s3_server)
    client.create_bucket(Bucket=bucket)
    client.close()
    prefix = f"lcfiles{uuid.uuid4().hex[:8]}:"
    with postgres_database() as database_url:
        env = {
            "LIGHTCHAT_REDIS_URL": REDIS_URL,
            "LIGHTCHAT_REDIS_PREFIX": prefix,
            "LIGHTCHAT_DATABASE_URL": database_url,
            "LIGHTCHAT_SECRET": "storage-test-secret-" + "x" * 24,
            "LIGHTCHAT_SHUTDOWN_GRACE_S": "0",
            "BUCKET_NAME": bucket,
            "APP_AWS_ACCESS_KEY": "testing",
            "APP_AWS_SECRET_KEY": "testing",
            "APP_AWS_REGION": "us-east-1",
            "DEV_AWS_ENDPOINT": s3_server.url,
        }
        folders = [tmp_path / "a", tmp_path / "b"]
        for folder in folders:
            folder.mkdir()
        pair = [
            lightchat_serve(APP, env={**env, "LIGHTCHAT_APP_DIR": str(folder)}, ready=None)
            for folder in folders
        ]
        try:
            for worker in pair:
                worker.wait_ready()
            yield pair[0], pair[1], bucket
        finally:
            for worker in pair:
                worker.stop(timeout=15)
        with redis.Redis.from_url(REDIS_URL) as redis_client:
            keys = list(redis_client.scan_iter(match=f"{prefix}*"))
            if keys:
                redis_client.delete(*keys)


async def test_a_file_kept_by_one_worker_is_served_by_the_other_from_the_bucket(
    workers: tuple[Server, Server, str], s3_server: Endpoint
) -> None:
    a, b, bucket = workers
    report = b"%PDF-1.4\n" + bytes(range(256)) * 400
    async with httpx.AsyncClient(timeout=WAIT_S) as client:
        made = await client.get(f"{a.url}/")
        assert made.status_code == 303, made.text
        chat = made.headers["location"].rsplit("/", 1)[1]
        page = await client.get(f"{a.url}/chat/{chat}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        posted = await client.post(
            f"{a.url}/chat/{chat}/messages",
            data={"csrf_token": token.group(1), "content": "see attached"},
            files={"files": ("report.pdf", report, "application/pdf")},
            headers={"HX-Request": "true"},
        )
        assert posted.status_code == 204, posted.text
        page = await client.get(f"{a.url}/chat/{chat}")
        link = re.search(rf'"(/chat/{chat}/elements/[^"/]+)"', page.text)
        assert link is not None, page.text
        listed = bucket_client(s3_server).list_objects_v2(Bucket=bucket)
        assert len(listed.get("Contents", [])) == 1  # in the bucket, not in a's folder

        served = await client.get(f"{b.url}{link.group(1)}")
        assert served.status_code == 200
        assert served.content == report
        assert served.headers["content-type"] == "application/pdf"

        async with httpx.AsyncClient(timeout=WAIT_S) as stranger:
            refused = await stranger.get(f"{b.url}{link.group(1)}")
            assert refused.status_code in (403, 404)
