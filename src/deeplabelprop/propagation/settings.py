"""``[propagate]``: the propagation section every recipe shares.

    [propagate]
    method = "spectral"        # any registered method (deeplabelprop methods)
    weight = "own"             # the training weight: own (the method's paper) | margin | entropy
                               #   | top-probability | uniform | calibrated
    calibration = "auto"       # how `confidence` becomes P(pseudo label is right): auto (the
                               #   method's measured best) | temperature | platt | none
    n_neighbors = 20           # ... and any parameter of the method, passed straight through

A parameter the method does not take is an error, and each value is typed and range-checked
by the method's own declaration, before a run starts. Size parameters left at their default are
fitted to the data in one place (:func:`~deeplabelprop.propagation.registry.fit_to_size`).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field

import numpy as np

from .._params import Options, check_params
from ..config import coerce
from ..errors import InputError
from .base import prepare_inputs
from .calibration import CALIBRATIONS
from .calibration import calibrate as calibrate_result
from .registry import get_propagator_class, make_propagator
from .result import PropagationResult
from .weights import check_weight_name, example_weights

CALIBRATED = "calibrated"  # the training weight that is the calibrated confidence itself


@dataclass
class PropagateSettings:
    """A method, its parameters and the per-example training weight."""

    method: str = "diffusion"
    weight: str = "own"
    params: dict = field(default_factory=dict)
    calibration: str = "auto"

    @classmethod
    def from_config(
        cls, data: dict, prefix: str = "", default: PropagateSettings | None = None
    ) -> PropagateSettings:
        """From a TOML table: ``method``, ``weight`` and the method's own parameters."""
        base = default or cls()
        data = dict(data)
        method = str(data.pop("method", base.method))
        weight = str(data.pop("weight", base.weight))
        calibration = str(data.pop("calibration", base.calibration))
        try:
            pcls = get_propagator_class(method)
        except InputError as exc:
            raise InputError(f"{prefix}method: {exc}") from None
        hints = typing.get_type_hints(pcls)
        names = {f.name for f in dataclasses.fields(pcls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(
                f"{prefix}{unknown[0]}: method {method!r} does not take {unknown[0]}; its "
                f"parameters are {', '.join(sorted(names))}"
            )
        params = dict(base.params) if method == base.method else {}
        params.update({k: coerce(v, hints[k], prefix + k) for k, v in data.items()})
        return cls(method, weight, params, calibration)

    def to_config(self) -> dict:
        return {
            "method": self.method,
            "weight": self.weight,
            "calibration": self.calibration,
            **self.params,
        }

    def validate(self, prefix: str = "propagate.") -> None:
        """The method, the weight, the calibration and every parameter, checked without data."""
        if self.weight != CALIBRATED:
            check_weight_name(self.weight, allow_own=True, setting=f"{prefix}weight")
        Options(CALIBRATIONS).check(f"{prefix}calibration", self.calibration)
        try:
            make_propagator(self.method, **self.params)
        except InputError as exc:
            raise InputError(f"{prefix.rstrip('.')}: {exc}") from None

    def build(self, n_samples: int, *, seed: int | None = None):
        """The propagator, its size parameters fitted to ``n_samples`` points; ``seed`` (a
        run's seed) is its ``random_state`` unless the settings give one."""
        params = dict(self.params)
        if seed is not None and "random_state" not in params:
            if "random_state" in {
                f.name for f in dataclasses.fields(get_propagator_class(self.method))
            }:
                params["random_state"] = seed
        return make_propagator(self.method, n_samples=n_samples, **params)

    def weight_name(self, propagator=None) -> str:
        """The training weight in use: the method's own unless another is named (the
        ``calibrated`` weight is set after calibration; until then the method's own stands)."""
        own = (propagator or get_propagator_class(self.method)).weight
        return own if self.weight in ("own", CALIBRATED) else self.weight

    def propagate(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        n_classes: int,
        *,
        seed: int | None = None,
        calibrate: bool = True,
    ) -> PropagationResult:
        """Propagate ``labels`` over ``features``. ``weights`` holds the chosen training weight
        (computed from the method's own probabilities), ``confidence`` the calibrated
        probability that each pseudo label is right (unless ``calibrate`` is False or the
        calibration is "none": per-epoch propagations that only need the weights skip it), and
        ``info["params"]`` every parameter the method ran with."""
        propagator = self.build(len(labels), seed=seed)
        check_params(propagator, propagator.constraints)
        x, y, c = prepare_inputs(features, labels, n_classes)
        prepared = propagator.prepare(x)
        result = self.with_weights(propagator.solve(prepared, y, c), propagator)
        method = self.calibration if calibrate or self.weight == CALIBRATED else "none"
        method = propagator.calibration if method == "auto" else method
        result = calibrate_result(propagator, prepared, y, c, result, method=method, seed=seed or 0)
        if self.weight == CALIBRATED:
            result = result.with_weights(result.confidence, CALIBRATED)
        result.info["params"] = {
            "method": self.method,
            "weight": result.weight_name,
            "calibration": method,
            **dataclasses.asdict(propagator),
        }
        return result

    def with_weights(self, result: PropagationResult, propagator=None) -> PropagationResult:
        """``result`` with the chosen training weight in ``weights``."""
        name = self.weight_name(propagator)
        if name == result.weight_name:
            return result
        temperature = getattr(propagator, "confidence_temperature", None)
        extra = {} if temperature is None else {"temperature": temperature}
        return result.with_weights(
            example_weights(name, result.probabilities, result.labeled, **extra), name
        )
