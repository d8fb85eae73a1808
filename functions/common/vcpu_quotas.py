"""EC2's running vCPU quotas by instance family, on demand and Spot, as Service Quotas names them
(https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html). Over one, RunInstances answers
VcpuLimitExceeded (on demand) or MaxSpotInstanceCountExceeded (Spot)."""

from __future__ import annotations

import re

STANDARD = ("L-1216C47A", "L-34B43A08")  # Standard (A, C, D, H, I, M, R, T, Z)
GPU = ("L-DB2E81BA", "L-3819A6DF")  # G and VT
P = ("L-417A185B", "L-7212CCBC")  # P on demand; P4, P3 and P2 Spot
FAMILY_QUOTAS = {"g": GPU, "vt": GPU, "p": P, "p5": ("L-417A185B", "L-C4BD4855")}  # P5 Spot
NOT_STANDARD = frozenset({"g", "vt", "p", "f", "inf", "dl", "trn", "hpc", "x", "u", "mac"})
# short names for reasons in words ("vCPU quota for Standard on-demand: 32 of 32 in use")
GROUPS = {STANDARD: "Standard", GPU: "G and VT", P: "P", FAMILY_QUOTAS["p5"]: "P5"}


def quota_codes(instance_type: str) -> tuple[str, str] | None:
    """(on-demand, Spot) quota codes of the type's family, or None when not known here."""
    generation = re.match(r"[a-z]+\d?", instance_type)  # p5 has a Spot quota of its own
    if generation and generation[0] in FAMILY_QUOTAS:
        return FAMILY_QUOTAS[generation[0]]
    family = re.match(r"[a-z]+", instance_type)
    name = family[0] if family else ""
    if name in FAMILY_QUOTAS:
        return FAMILY_QUOTAS[name]
    return STANDARD if name and name not in NOT_STANDARD and name[0] in "acdhimrtz" else None


def quota_code(instance_type: str, spot: bool) -> str | None:
    codes = quota_codes(instance_type)
    return None if codes is None else codes[1 if spot else 0]


def group_name(instance_type: str, spot: bool) -> str:
    """"Standard on-demand", "G and VT Spot": the quota's group and market, for reasons in words."""
    codes = quota_codes(instance_type)
    return f"{GROUPS.get(codes, instance_type) if codes else instance_type} {'Spot' if spot else 'on-demand'}"
