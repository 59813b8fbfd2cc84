"""Learned linear models over the signals of `features`: the passage ranker and the abstainer.

Each is a small JSON file in `rag/search/models/` written by a script in `eval/` (the ranker by
`eval/train_ranker.py`): feature names, the standardisation (mean, scale), the coefficients and
the intercept of a scikit-learn logistic regression, so scoring needs numpy only and the file is
reproduced byte for byte by the script. A model whose feature names differ from what the code
computes is refused, not silently misapplied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rag.errors import ConfigError

MODELS = Path(__file__).resolve().parent / "models"
BACKEND_MODELS = {"onnx-int8": "-int8"}
"""Backends whose indexes have models of their own, fitted on tuning indexes built that way: the
suffix of their file names (`ranker-int8.json`, `abstain-int8.json`)."""


def for_backend(name: str, backend: str | None) -> str:
    """The committed model `name` fitted to indexes embedded by `backend` when there is one
    ("ranker" -> "ranker-int8" for an int8 index), else `name` itself; a path is used as given."""
    suffix = BACKEND_MODELS.get(backend or "")
    if not name or not suffix or name.endswith(".json") or not (MODELS / f"{name}{suffix}.json").is_file():
        return name
    return f"{name}{suffix}"


@dataclass(frozen=True)
class LinearModel:
    """score(x) = ((x - mean) / scale) . coef + intercept; `threshold` for a decision, if any."""

    name: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float | None = None
    meta: dict | None = None

    def score(self, rows: np.ndarray) -> np.ndarray:
        """The linear score of each row (one column per feature, in `features` order)."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        return ((rows - self.mean) / self.scale) @ self.coef + self.intercept

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """The logistic of the score, in (0, 1)."""
        return 1.0 / (1.0 + np.exp(-self.score(rows)))

    def to_json(self) -> str:
        data = {
            "name": self.name, "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
            "threshold": None if self.threshold is None else round(float(self.threshold), 6),
            "meta": self.meta or {},
        }
        return json.dumps(data, indent=1, sort_keys=True) + "\n"


def load_model(name: str, expected: Sequence[str]) -> LinearModel:
    """The model `name` (a file in rag/search/models/, or a path), checked against `expected`."""
    path = Path(name) if name.endswith(".json") else MODELS / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = LinearModel(
            name=data["name"], features=tuple(data["features"]),
            mean=np.array(data["mean"], dtype=np.float64), scale=np.array(data["scale"], dtype=np.float64),
            coef=np.array(data["coef"], dtype=np.float64), intercept=float(data["intercept"]),
            threshold=data.get("threshold"), meta=data.get("meta") or {},
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the model {path} cannot be read ({exc})") from None
    if model.features != tuple(expected):
        raise ConfigError(
            f"the model {path} was trained on features {list(model.features)}, but this version "
            f"computes {list(expected)}: retrain it (eval/train_ranker.py)"
        )
    return model
