"""Service Quotas' GetServiceQuota, which LocalStack's community edition lacks, served from the engine's quotas
(data/quotas.json, or a test's limits file: limits.py) as AWS answers it (https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html):
an unknown code is NoSuchResourceException. Selected with PROVIDER_OVERRIDE_SERVICE_QUOTAS=longtask; found through
the entry point `localstack.aws.provider`."""

from __future__ import annotations

from typing import Any

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.spec import load_service
from localstack.services.plugins import Service, aws_provider

from longtask_engine.in_localstack.limits import quota as known_quota


class ServiceQuotasProvider:
    service = "service-quotas"

    @staticmethod
    def get_service_quota(context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        service, code = request["ServiceCode"], request["QuotaCode"]
        quota = known_quota(service, code)
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
