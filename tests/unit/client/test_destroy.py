"""destroy --delete-runs empties the versioned artifact bucket (every version and delete marker) before deleting it."""

from __future__ import annotations

from typing import Any

from longtask.destroy import Teardown, _empty_and_delete_bucket

from ..conftest import BUCKET


def test_a_versioned_bucket_is_emptied_of_every_version_then_deleted(aws: dict[str, Any]) -> None:
    s3 = aws["s3"]
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        s3.put_object(Bucket=BUCKET, Key="runs/r1/result.json", Body=body)
    s3.delete_object(Bucket=BUCKET, Key="runs/r1/result.json")  # a delete marker
    _empty_and_delete_bucket(s3, BUCKET)
    assert BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_what_destroy_says_it_deletes() -> None:
    plan = Teardown("longtask", 42, "bucket-1", "table-1", running=[])
    assert plan.describe(delete_runs=False) == ("deletes stack longtask (42 resources) and keeps the bucket bucket-1 "
                                                "and the table table-1 (runs' logs and records)")  # fmt: skip
    assert "deletes the bucket bucket-1 (every version) and the table table-1 too" in plan.describe(delete_runs=True)
