"""Service Quotas' GetServiceQuota, which LocalStack's community edition lacks, served from the engine's quotas
(data/quotas.json) as AWS answers it (https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html):
an unknown code is NoSuchResourceException. Selected with PROVIDER_OVERRIDE_SERVICE_QUOTAS=longtask; found through
the entry point `localstack.aws.provider`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.spec import load_service
from localstack.services.plugins import Service, aws_provider

QUOTAS_FILE = Path(__file__).parents[1] / "data" / "quotas.json"


@cache
def quotas() -> dict[str, dict[str, dict[str, Any]]]:
    return {service: codes for service, codes in json.loads(QUOTAS_FILE.read_text()).items() if service != "comment"}


class ServiceQuotasProvider:
    service = "service-quotas"

    @staticmethod
    def get_service_quota(context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        service, code = request["ServiceCode"], request["QuotaCode"]
        quota = quotas().get(service, {}).get(code)
        if quota is None:
            raise CommonServiceException("NoSuchResourceException", f"The quota {code} of {service} does not exist.")
        arn = f"arn:aws:servicequotas:{context.region}:{context.account_id}:{service}/{code}"
        return {"Quota": {"ServiceCode": service, "QuotaArn": arn, "QuotaCode": code, "QuotaName": quota["name"],
                          "Value": float(quota["value"]), "Unit": "None", "Adjustable": True, "GlobalQuota": False}}


@aws_provider(api="service-quotas", name="longtask")
def service_quotas_longtask() -> Service:
    from localstack.aws.skeleton import Skeleton

    provider = ServiceQuotasProvider()
    dispatch = {"GetServiceQuota": provider.get_service_quota}
    service = Service("service-quotas", skeleton=Skeleton(load_service("service-quotas"), dispatch))
    service._provider = provider
    return service
