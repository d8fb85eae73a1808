"""Have moto's EC2 copy only the reservations it narrows, not every reservation of the region at every lookup.

moto 5.1 answers every instance lookup through `all_reservations`, which makes a shallow copy of each reservation
the region ever had, terminated ones included, so the cost grew with every instance a session launched. The same
reservations are read as they are, and a copy is made only of one whose instance list is narrowed
(DescribeInstances by id or filter): the same answers, in the same order. Runs when LocalStack starts, through the
entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

import copy
from typing import Any

from localstack.runtime import hooks

from longtask_engine.in_localstack.speed import speed_only


@hooks.on_infra_start()
@speed_only
def copy_only_narrowed_reservations() -> None:
    from moto.ec2.exceptions import InvalidInstanceIdError
    from moto.ec2.models.instances import InstanceBackend
    from moto.ec2.utils import filter_reservations, passes_filter_dict

    def all_reservations(self: InstanceBackend, filters: Any = None) -> list[Any]:
        """Every reservation (its callers only read them); with filters, copies narrowed to the instances that
        pass."""
        reservations = list(self.reservations.values())  # a snapshot: a RunInstances may add one meanwhile
        if filters is None:
            return reservations
        return _narrowed(reservations, lambda instance: passes_filter_dict(instance, filters))

    def get_reservations_by_instance_ids(self: InstanceBackend, instance_ids: list[str],
                                         filters: Any = None) -> list[Any]:  # fmt: skip
        """moto's own, but for the copies: the reservations holding these instances, narrowed to them."""
        reservations = _narrowed(list(self.reservations.values()), lambda instance: instance.id in instance_ids)
        found_instance_ids = [instance.id for reservation in reservations for instance in reservation.instances]
        if len(found_instance_ids) != len(instance_ids):
            raise InvalidInstanceIdError(next(iter(set(instance_ids).difference(found_instance_ids))))
        if filters is not None:
            reservations = filter_reservations(reservations, filters)
        return reservations

    InstanceBackend.all_reservations = all_reservations
    InstanceBackend.get_reservations_by_instance_ids = get_reservations_by_instance_ids


def _narrowed(reservations: list[Any], keep: Any) -> list[Any]:
    """Copies of the reservations with an instance to keep, each holding those instances only."""
    found = []
    for reservation in reservations:
        kept = [instance for instance in reservation.instances if keep(instance)]
        if kept:
            narrowed = copy.copy(reservation)
            narrowed.instances = kept
            found.append(narrowed)
    return found
