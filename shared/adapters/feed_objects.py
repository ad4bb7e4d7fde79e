"""S3 behind :class:`shared.catalog.ports.FeedObjects`: the catalog feed object, streamed line by line.

One GetObject per load; the body is read in chunks as the lines are iterated, and each line decoded
(UTF-8; a byte-order mark before the first line is dropped, as spreadsheets write one). A missing
object, a bucket the function may not read (without ``s3:ListBucket`` S3 answers a missing key with
AccessDenied) or a line that is no UTF-8 text raises ``FeedUnreadable`` naming the bucket and key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from shared.catalog.feed_run import FeedUnreadable
from shared.catalog.ports import FeedObject

CHUNK_BYTES = 64 * 1024


class S3FeedObjects:
    def __init__(self, client: Any) -> None:
        self._client = client

    def open(self, bucket: str, key: str) -> FeedObject:
        where = f"s3://{bucket}/{key}"
        try:
            found = self._client.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchBucket", "AccessDenied", "404", "403"):
                raise FeedUnreadable(
                    f"{where}: cannot be read ({code}): put the feed there, or check the key the stack "
                    "was deployed with (context catalog_feed_key)"
                ) from error
            raise
        return FeedObject(
            lines=_lines(found["Body"], where),
            last_modified=found["LastModified"],
            version=found.get("VersionId"),
        )


def _lines(body: Any, where: str) -> Iterator[str]:
    """The body's lines with their endings (CSV's quoted fields may span lines), decoded as read."""
    for number, raw in enumerate(body.iter_lines(chunk_size=CHUNK_BYTES, keepends=True), start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise FeedUnreadable(f"{where}: line {number} is not UTF-8 text") from None
