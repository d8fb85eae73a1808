"""Plain (Click) help with a command's options under headings: Typer's `rich_help_panel`, without Rich."""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand


class GroupedHelpCommand(TyperCommand):
    """Arguments first, then each option under its `rich_help_panel` (or "Options"), in the order they come."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            argument = param.param_type_name == "argument"
            heading = "Arguments" if argument else getattr(param, "rich_help_panel", None) or "Options"
            sections.setdefault(heading, []).append(record)
        for heading, records in sections.items():
            with formatter.section(heading):
                formatter.write_dl(records)
