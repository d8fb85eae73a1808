"""What the engine loads into LocalStack's moto to remember (speed/moto_reuse.py): the same answers, worked out
once."""

from __future__ import annotations

import types
from collections.abc import Callable

import pytest
from moto.core import responses
from moto.ec2 import utils
from moto.ec2.models import tags
from moto.ec2.responses import EC2Response


@pytest.fixture
def remembered(plugin: Callable[[str], types.ModuleType], monkeypatch: pytest.MonkeyPatch) -> None:
    """moto with the plug-in's memory, restored after the test."""
    monkeypatch.setattr(responses, "method_names_from_class", responses.method_names_from_class)
    monkeypatch.setattr(utils, "simple_aws_filter_to_re", utils.simple_aws_filter_to_re)
    monkeypatch.setattr(tags, "simple_aws_filter_to_re", tags.simple_aws_filter_to_re)
    plugin("speed.moto_reuse").remember_dispatch_and_filters()


def test_the_plugin_remembers_the_same_answers(remembered: None) -> None:
    first = responses.method_names_from_class(EC2Response)
    assert "describe_instances" in first
    assert responses.method_names_from_class(EC2Response) is first  # worked out once
    assert first == responses.method_names_from_class.__wrapped__(EC2Response)  # what moto works out itself
    pattern = utils.simple_aws_filter_to_re("web-*?")
    assert tags.simple_aws_filter_to_re is utils.simple_aws_filter_to_re  # where tag filters look it up
    assert utils.simple_aws_filter_to_re("web-*?") is pattern
    assert pattern == utils.simple_aws_filter_to_re.__wrapped__("web-*?")  # what moto works out itself
