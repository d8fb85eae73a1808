"""The local engine's prices (data/prices.json), as the AWS Price List API (plugins/pricing_provider.py) and EC2's
Spot price history (plugins/ec2_provider.py) serve them.

GetProducts answers as AWS does (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html):
each product a JSON document (`product.attributes`, `terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit`),
and only those every TERM_MATCH filter matches. Products: the Linux on-demand instances and the EBS volume types.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("data") / "prices.json"
ON_DEMAND_OFFER = "JRTCKXETXF"  # AWS's offer term code of on-demand prices
ON_DEMAND_RATE = "6YS6EN2CT7"  # ... and the rate code within it


@cache
def regions() -> dict[str, dict[str, Any]]:
    """Each region's location name, onDemandHourly and spotHourly (by instance type) and storageGbMonth (by
    volume type), in USD as text."""
    return json.loads(PRICES_FILE.read_text())["regions"]


def get_products(request: dict[str, Any]) -> dict[str, Any]:
    """GetProducts: the products of ServiceCode that every filter matches (ValueError: a filter type not known)."""
    if request.get("ServiceCode") != "AmazonEC2":
        return {"FormatVersion": "aws_v1", "PriceList": []}
    filters = request.get("Filters") or []
    unknown = [rule["Type"] for rule in filters if rule.get("Type", "TERM_MATCH") != "TERM_MATCH"]
    if unknown:
        raise ValueError(f"filter type {unknown[0]} is not supported; use TERM_MATCH")

    def matches(document: dict[str, Any]) -> bool:
        attributes = {**document["product"]["attributes"], "productFamily": document["product"]["productFamily"]}
        return all(attributes.get(rule["Field"]) == rule["Value"] for rule in filters)

    return {"FormatVersion": "aws_v1", "PriceList": [json.dumps(d) for d in _products() if matches(d)]}


@cache
def _products() -> tuple[dict[str, Any], ...]:
    documents = []
    for region, listed in regions().items():
        common = {"regionCode": region, "location": listed["location"], "servicecode": "AmazonEC2"}
        for instance_type, usd in listed["onDemandHourly"].items():
            attributes = {**common, "instanceType": instance_type, "operatingSystem": "Linux", "tenancy": "Shared",
                          "preInstalledSw": "NA", "capacitystatus": "Used", "licenseModel": "No License required"}
            documents.append(_document("Compute Instance", attributes, "Hrs", usd))
        for volume_type, usd in listed["storageGbMonth"].items():
            documents.append(_document("Storage", {**common, "volumeApiName": volume_type}, "GB-Mo", usd))
    return tuple(documents)


def _document(family: str, attributes: dict[str, str], unit: str, usd: str) -> dict[str, Any]:
    sku = hashlib.sha256(json.dumps(attributes, sort_keys=True).encode()).hexdigest()[:16].upper()
    offer, rate = f"{sku}.{ON_DEMAND_OFFER}", f"{sku}.{ON_DEMAND_OFFER}.{ON_DEMAND_RATE}"
    return {
        "product": {"productFamily": family, "attributes": attributes, "sku": sku},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {offer: {"offerTermCode": ON_DEMAND_OFFER, "sku": sku, "priceDimensions": {rate: {
            "rateCode": rate, "unit": unit, "pricePerUnit": {"USD": usd}, "description": f"{usd} USD per {unit}",
        }}}}},
    }  # fmt: skip
