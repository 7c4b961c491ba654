"""``--fast-dev-run``: one transform of a recipe's config, so every stage runs on a few images for
one epoch (Lightning's switch), instead of checks spread through the recipes."""

from __future__ import annotations

import dataclasses

from ..propagation import Pipeline, parameter_names

FAST_DEV_IMAGES = 512
FAST_DEV_EIGENVECTORS = 20
EPISODE_CAPS = {"n_episodes": 5, "n_query": 3}


def fast_dev_run(config):
    """``config`` with ``subset`` = 512 images, every ``epochs`` at most 1 (0 stays 0: a stage
    that is off stays off), at most 20 eigenvectors where a method takes η, and few-shot
    episodes of at most 5 × 3 queries from pools of 10, with the smallest transfer."""
    changes = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name == "epochs" and isinstance(value, int):
            changes[f.name] = min(value, 1)
        elif f.name in EPISODE_CAPS and isinstance(value, int):  # few-shot: small episodes
            changes[f.name] = min(value, EPISODE_CAPS[f.name])
        elif f.name == "pool_per_class":
            changes[f.name] = min(value or 10, 10)
        elif f.name == "labels_per_class":  # few-shot transfer: the smallest
            changes[f.name] = (1,)
        elif isinstance(value, Pipeline):
            changes[f.name] = _fewer_eigenvectors(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes[f.name] = fast_dev_run(value)
    if any(f.name == "subset" for f in dataclasses.fields(config)):
        current = config.subset
        changes["subset"] = FAST_DEV_IMAGES if current is None else min(current, FAST_DEV_IMAGES)
    return dataclasses.replace(config, **changes)


def _fewer_eigenvectors(p: Pipeline) -> Pipeline:
    if "n_components" not in parameter_names(p.method):
        return p
    from ..propagation import get_propagator_class

    default = {f.name: f.default for f in dataclasses.fields(get_propagator_class(p.method))}
    eta = min(p.params.get("n_components", default["n_components"]), FAST_DEV_EIGENVECTORS)
    return dataclasses.replace(p, params={**p.params, "n_components": eta})
