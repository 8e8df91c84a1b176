"""Every number crboost reads from a config, given a value that is there but not usable (NaN,
infinite, empty, a number with its unit, the text 'nan'), stops loading with one line naming
`crboost.yaml`, the key and the value. The keys come from the models (the global config and
every job type's params), so a key added later is covered without touching this file."""

from __future__ import annotations

import copy
import types
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from crboost.cli import main
from crboost.errors import CrboostError
from crboost.jobs import JOB_TYPES
from crboost.project.config import ProjectConfig
from crboost.project.load import load_project

UNUSABLE = {
    "NaN": float("nan"), "infinite": float("inf"), "minus infinite": float("-inf"),
    "empty": "", "with a unit": "2.7 A", "the text nan": "nan",
}  # fmt: skip


def _is_number(annotation) -> bool:
    if annotation in (int, float):
        return True
    args = [a for a in typing.get_args(annotation) if a is not type(None) and a is not Ellipsis]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_number(a) for a in args)
    return origin in (tuple, list) and bool(args) and all(_is_number(a) for a in args)


def _is_sequence(annotation) -> bool:
    if typing.get_origin(annotation) in (tuple, list):
        return True
    return any(typing.get_origin(a) in (tuple, list) for a in typing.get_args(annotation))


def _some_numbers(annotation) -> list[int]:
    """Usable numbers of the sequence's length (3 where only a list of numbers is known)."""
    for a in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(a) is tuple and Ellipsis not in typing.get_args(a):
            return [1] * len(typing.get_args(a))
    return [1, 1, 1]


def _number_fields(model: type[BaseModel], prefix: tuple) -> list[tuple[tuple, object]]:
    found = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        inner = [a for a in (typing.get_args(annotation) or (annotation,))
                 if isinstance(a, type) and issubclass(a, BaseModel)]  # fmt: skip
        if inner:
            found += _number_fields(inner[0], (*prefix, name))
        elif _is_number(annotation):
            found.append(((*prefix, name), annotation))
    return found


def _config_keys(data: dict) -> list[tuple[tuple, object]]:
    """(path in the YAML, annotation) of every number of the project config: the global models
    (resources as `default` and as one pipeline entry's), then each pipeline entry's params."""
    keys = []
    for path, annotation in _number_fields(ProjectConfig, ()):
        if path[0] == "resources":
            keys.append((("resources", "default", *path[1:]), annotation))
        elif path[0] == "pipeline":
            keys.append((("pipeline", 1, "resources", *path[2:]), annotation))
        else:
            keys.append((path, annotation))
    for i, entry in enumerate(data["pipeline"]):
        for name, field in JOB_TYPES[entry["type"]].model_fields.items():
            if _is_number(field.annotation) and not field.exclude:
                keys.append((("pipeline", i, "params", name), field.annotation))
    return keys


def _dotted(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@pytest.fixture(scope="module")
def particle_project(tmp_path_factory) -> Path:
    """Every job type: the particle demo, initialised, not run."""
    root = tmp_path_factory.mktemp("unusable") / "p"
    assert main(["demo", str(root), "--to", "particles", "--tilt-series", "2", "--no-run"]) == 0
    return root


def test_the_sweep_covers_every_job_type_and_the_global_keys(particle_project):
    data = yaml.safe_load((particle_project / "crboost.yaml").read_text())
    keys = {_dotted(path) for path, _ in _config_keys(data)}
    assert {e["type"] for e in data["pipeline"]} == set(JOB_TYPES), "every job type in the sweep"
    for expected in ("microscope.pixel_size", "acquisition.detector_size", "data.min_tilts",
                     "resources.default.cpus", "pipeline[1].resources.gpus"):  # fmt: skip
        assert expected in keys, sorted(keys)
    assert len(keys) > 60, len(keys)


@pytest.mark.parametrize("label", list(UNUSABLE))
def test_an_unusable_number_anywhere_in_the_config_is_one_line_naming_the_key(
    particle_project, label
):
    config = particle_project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    accepted, unclear = [], []
    for path, annotation in _config_keys(data):
        bad = copy.deepcopy(data)
        node = bad
        for part in path[:-1]:
            node = node[part] if isinstance(part, int) else node.setdefault(part, {})
        value = UNUSABLE[label]
        if _is_sequence(annotation):  # one element of a list of numbers
            current = node.get(path[-1])
            value = [*(current if isinstance(current, list) else _some_numbers(annotation))[:-1],
                     value]  # fmt: skip
        node[path[-1]] = value
        key = _dotted(path)
        try:
            load_project(config, data=bad)
        except CrboostError as e:
            message = str(e)
            synced = f"{key}: set globally as"  # a microscope value given per job
            named = f"crboost.yaml: {key}" in message and (
                repr(UNUSABLE[label]) in message or str(UNUSABLE[label]) in message
            )
            if "\n" in message or not (named or synced in message):
                unclear.append(f"{key}: {message}")
        else:
            accepted.append(key)
    assert not accepted, f"{label} accepted in: {accepted}"
    assert not unclear, "\n".join(unclear)
