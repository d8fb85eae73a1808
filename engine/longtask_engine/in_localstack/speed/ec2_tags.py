"""Have moto's EC2 read a resource's tags by its id, not by filtering every tag of the region: moto 5.1 answers
`resource.get_tags()` with a `resource-id` filter matched against every tag, once per instance a tag-filtered
DescribeInstances looks at, so describes grew with the square of the instances launched. The answer is the same
list, in the same order (an id holds no wildcard). Runs when LocalStack starts, through the entry point
`localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from localstack.runtime import hooks

from longtask_engine.in_localstack.speed import speed_only


@hooks.on_infra_start()
@speed_only
def read_tags_by_resource_id() -> None:
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    def get_tags(self: TaggedEC2Resource) -> list[dict[str, str]]:
        if not self.id:
            return []
        resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
        return [{"resource_id": self.id, "key": key, "value": value, "resource_type": resource_type}
                for key, value in self.ec2_backend.tags.get(self.id, {}).items()]  # fmt: skip

    TaggedEC2Resource.get_tags = get_tags
