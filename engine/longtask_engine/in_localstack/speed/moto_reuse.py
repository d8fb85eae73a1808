"""Remember two answers moto works out again on every request: the action methods of a response class (listed with
`inspect.getmembers` for every dispatch) and the regular expression of an EC2 filter value (made again for every
resource a `tag:` filter is matched against). Neither changes while LocalStack runs. Runs when LocalStack starts,
through the entry point `localstack.hooks.on_infra_start`.
"""

from __future__ import annotations

from functools import lru_cache

from localstack.runtime import hooks

from longtask_engine.in_localstack.speed import speed_only

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
