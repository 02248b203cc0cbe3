"""Catalogue files (YAML) to plain dicts, keeping the line of every key for error messages."""

from __future__ import annotations

from typing import Any

import yaml

from card_service.catalogue.errors import CatalogueInvalid
from card_service.protocol.fees import FareRules, RulesInvalid

Path = tuple[str | int, ...]


def parse(text: str, version: str) -> FareRules:
    """Parse and validate a whole file; any fault raises ``CatalogueInvalid`` with its line.

    The version is assigned when loading (``<number>-<hash>``); a file does not name its own.
    """
    data, lines = read(text)
    if not isinstance(data, dict):
        raise CatalogueInvalid(1, "the file must be a mapping (city, timezone, services...)")
    if "version" in data:
        raise CatalogueInvalid(lines[("version",)], "the version is assigned when loading")
    try:
        return FareRules.from_dict({**data, "version": version})
    except RulesInvalid as exc:
        raise CatalogueInvalid(_line_of(exc.path, lines), str(exc)) from exc


def _line_of(path: Path, lines: dict[Path, int]) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def read(text: str) -> tuple[Any, dict[Path, int]]:
    """YAML to Python values, refusing duplicate keys; returns the 1-based line of each path."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path, int] = {}
        value = _convert(loader, node, (), lines) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise CatalogueInvalid(mark.line + 1 if mark else None, str(exc.problem)) from exc
    except yaml.YAMLError as exc:
        raise CatalogueInvalid(None, str(exc)) from exc
    finally:
        loader.dispose()
    return value, lines


def _convert(loader: yaml.SafeLoader, node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | bool | float) and key is not None:
                raise CatalogueInvalid(key_node.start_mark.line + 1, "a key must be plain text")
            if key in out:
                raise CatalogueInvalid(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            sub = (*path, str(key))
            lines[sub] = key_node.start_mark.line + 1
            out[key] = _convert(loader, value_node, sub, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(loader, item, (*path, i), lines) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
