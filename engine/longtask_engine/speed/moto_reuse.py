"""Remember two answers moto works out again on every request: the action methods of a response class, and the
regular expression of an EC2 filter value. Speed only: nothing is accepted or refused differently.

moto 5 lists a response class's methods with `inspect.getmembers` to dispatch every request it serves (EC2,
DynamoDB, IAM...), and translates each filter value to a regular expression once for every resource a
`tag:` filter is matched against (DescribeInstances by tag looks at every instance the engine knows). Profiled
with 50 runs at once, these were 4% and 1.5% of LocalStack's time. A class's methods and a pattern's expression
do not change while LocalStack runs.
Runs when LocalStack starts, through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from functools import lru_cache

from localstack.runtime import hooks

from . import speed_only

DISTINCT_PATTERNS = 4096  # far more than the filter values the application sends, bounded all the same


@hooks.on_infra_start()
@speed_only
def remember_dispatch_and_filters() -> None:
    from moto.core import responses
    from moto.ec2 import utils
    from moto.ec2.models import tags

    responses.method_names_from_class = lru_cache(maxsize=None)(responses.method_names_from_class)
    to_regex = lru_cache(maxsize=DISTINCT_PATTERNS)(utils.simple_aws_filter_to_re)
    utils.simple_aws_filter_to_re = tags.simple_aws_filter_to_re = to_regex
