"""Read template.yaml, CloudFormation's short intrinsic tags (!Ref, !GetAtt, !Sub, ...) included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class _TemplateLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's: a tenth of the time
    """A YAML loader that turns `!Tag value` into CloudFormation's long form."""


def _intrinsic(loader: _TemplateLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """The template as a plain dict (the JSON form CloudFormation also accepts)."""
    return parse_template(path.read_text())


def parse_template(body: str | dict[str, Any]) -> dict[str, Any]:
    """A template body as CloudFormation's GetTemplate returns it: as submitted, so JSON (ours) or YAML with short
    intrinsics (`sam deploy`'s); JSON is YAML too. An already parsed body (some SDKs decode JSON) is kept."""
    return body if isinstance(body, dict) else yaml.load(body, Loader=_TemplateLoader)
