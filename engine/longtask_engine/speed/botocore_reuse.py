"""LocalStack's botocore reads each data file once (longtask_engine/botocore_data.py). Speed only: every answer is
the one botocore would have read.

LocalStack 4.9.2 makes a new boto3 Session, with a new loader, each time it looks up the regions of a service
(`get_valid_regions_for_service`, for each service's stores) and for moto's EC2 regions, so endpoints.json
(1.2 MB) and each service's whole model were parsed again and again: 18% of LocalStack's CPU from its start to a
first finished run, here. Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from localstack.runtime import hooks

from . import speed_only


@hooks.on_infra_start()
@speed_only
def read_botocore_data_once() -> None:
    from longtask_engine.botocore_data import remember_data_files

    remember_data_files()
