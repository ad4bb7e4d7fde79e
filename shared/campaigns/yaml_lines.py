"""YAML read with line numbers kept, so every problem in a campaign, vocabulary or policy
file is reported as ``file:line: field: message``; hostile YAML (too deep, too many values) refused."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ValidationError,
)


class CampaignFileError(ValueError):
    """Every problem found in the campaign files, each as ``file:line: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


Model = TypeVar("Model", bound=BaseModel)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class _Source:
    """A parsed YAML file: its data and the line of every key and list item, by path."""

    path: Path
    text: str
    data: Any
    lines: dict[Path_, int]
    nodes: dict[Path_, Any]

    def line(self, loc: Sequence[str | int]) -> int:
        """The line of the deepest part of ``loc`` that exists in the file (1 if none does)."""
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return 1


# A campaign file is a few dozen values; these bound what YAML aliases and nesting can make of one.
MAX_YAML_VALUES = 20_000
MAX_YAML_DEPTH = 32


def _yaml_problem(path: Path, text: str, error: Exception) -> CampaignFileError:
    """One line: ``file:line: invalid YAML: what`` (PyYAML's own message spans several)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    position = getattr(error, "position", None)  # a ReaderError (a character YAML does not allow)
    if mark is not None:
        line = mark.line + 1
    else:
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
    what = " ".join(str(p) for p in (getattr(error, "context", None), getattr(error, "problem", None)) if p)
    return CampaignFileError([f"{path}:{line}: invalid YAML: {what or str(error).splitlines()[0]}"])


def _read_yaml(path: Path) -> _Source:
    import yaml

    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = f"the file is not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start})"
        raise CampaignFileError([f"{path}:1: {problem}"]) from None
    try:
        loader = yaml.SafeLoader(text)  # composed once, then constructed from the same nodes
        root = loader.get_single_node()
    except yaml.YAMLError as error:
        raise _yaml_problem(path, text, error) from None
    except RecursionError:
        raise CampaignFileError([f"{path}:1: invalid YAML: nested too deeply"]) from None
    lines: dict[Path_, int] = {}
    nodes: dict[Path_, Any] = {}
    # Iterative, with the ancestors of each node, so that a recursive alias, an alias "bomb" or deep
    # nesting is reported instead of exhausting the stack or the CPU.
    pending: list[tuple[Any, Path_, tuple[int, ...]]] = [(root, (), ())]
    while pending:
        node, at, ancestors = pending.pop()
        line = node.start_mark.line + 1 if node is not None else 1
        if id(node) in ancestors:
            raise CampaignFileError([f"{path}:{line}: invalid YAML: an alias refers to itself"])
        if len(nodes) >= MAX_YAML_VALUES:
            raise CampaignFileError(
                [f"{path}:{line}: invalid YAML: more than {MAX_YAML_VALUES} values (aliases repeated?)"]
            )
        if len(at) > MAX_YAML_DEPTH:
            raise CampaignFileError(
                [f"{path}:{line}: invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels"]
            )
        nodes[at] = node
        inside = (*ancestors, id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*at, str(key.value))
                lines[here] = key.start_mark.line + 1
                pending.append((value, here, inside))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*at, index)] = item.start_mark.line + 1
                pending.append((item, (*at, index), inside))
    try:
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        raise _yaml_problem(path, text, error) from None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        raise CampaignFileError([f"{path}:1: invalid YAML: {str(error).split(';')[0]}"]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise CampaignFileError([f"{path}:1: the file must be a mapping of fields"])
    return _Source(path, text, data, lines, nodes)


def field_line(path: Path, loc: Sequence[str | int]) -> int:
    """The line of ``loc`` (e.g. ``("schedule", "expression")``) in a campaign file that loads."""
    return _read_yaml(path).line(loc)


def _field_name(part: str | int) -> str:
    """A field as the problem names it: as written, or quoted when it has spaces or odd characters."""
    text = str(part)
    return text if re.fullmatch(r"[\w-]+", text) else repr(text)


def _problems(source: _Source, error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        where = ".".join(_field_name(p) for p in loc) or "campaign"
        message = item["msg"].removeprefix("Value error, ").replace("\n", " ")
        problems.append(f"{source.path}:{source.line(loc)}: {where}: {message}")
    return problems


def validate_yaml_file(path: Path, model: type[Model], context: dict[str, Any] | None = None) -> Model:
    """Parse ``path`` and validate it as ``model``; every problem is reported as ``file:line: message``."""
    source = _read_yaml(path)
    try:
        return model.model_validate(source.data, context=context)
    except ValidationError as error:
        raise CampaignFileError(_problems(source, error)) from None
