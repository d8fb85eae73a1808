"""The AWS Price List API (`pricing`), which LocalStack's community edition lacks, served from the engine's prices
(prices.py). Selected with PROVIDER_OVERRIDE_PRICING=longtask; found through the entry point
`localstack.aws.provider`."""

from __future__ import annotations

from typing import Any

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.spec import load_service
from localstack.services.plugins import Service, aws_provider

from longtask_engine.in_localstack import prices


class PricingProvider:
    service = "pricing"

    @staticmethod
    def get_products(context: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return prices.get_products(request)
        except ValueError as error:
            raise CommonServiceException("InvalidParameterException", str(error)) from None


@aws_provider(api="pricing", name="longtask")
def pricing_longtask() -> Service:
    from localstack.aws.skeleton import Skeleton

    provider = PricingProvider()
    service = Service("pricing", skeleton=Skeleton(load_service("pricing"), {"GetProducts": provider.get_products}))
    service._provider = provider
    return service
