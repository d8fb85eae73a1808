"""LocalStack's botocore reads each data file once (longtask_engine/botocore_data.py): LocalStack 4.9.2 makes a new
boto3 Session, with a new loader, each time it looks up a service's regions, so endpoints.json and whole service
models were parsed again and again. Every answer is the one botocore would have read. Runs when LocalStack starts,
through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from localstack.runtime import hooks

from longtask_engine.in_localstack.speed import speed_only


@hooks.on_infra_start()
@speed_only
def read_botocore_data_once() -> None:
    from longtask_engine.in_localstack.botocore_data import remember_data_files

    remember_data_files()
