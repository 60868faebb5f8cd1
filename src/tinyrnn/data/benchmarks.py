"""Named benchmarks, read from the packages that ship them (the optional extra ``data``).

Classification (the UCR/UEA archive's official train/test splits, through ``sktime.datasets``):
``JapaneseVowels`` (12 channels, lengths 7-29, 9 classes, 270 / 370), ``GunPoint`` (150 steps,
2 classes, 50 / 150), ``ItalyPowerDemand`` (24 steps, 2 classes, 67 / 1029). ``PUBLISHED``
holds the test accuracies of Fawaz et al. 2019, "Deep learning for time series classification:
a review" (its published results files).

Series: ``airline`` (Box-Jenkins monthly passengers 1949-1960, ``sktime.datasets``; the last 24
months, 1959-1960, are the test part) and ``sunspots`` (yearly 1700-2008,
``statsmodels.datasets``; the last 22 years, two solar cycles, are the test part).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .sequences import SequenceSet, pad_sequences

__all__ = ["CLASSIFICATION", "PUBLISHED", "SERIES", "Series", "load_classification", "load_series"]

CLASSIFICATION = {
    "JapaneseVowels": "load_japanese_vowels",
    "GunPoint": "load_gunpoint",
    "ItalyPowerDemand": "load_italy_power_demand",
}

PUBLISHED = {  # test accuracy (0-1), Fawaz et al. 2019
    "JapaneseVowels": {"MLP": 0.976, "FCN": 0.993, "ResNet": 0.992, "TWIESN": 0.965},
    "GunPoint": {"FCN": 1.0, "ResNet": 0.991, "TWIESN": 0.961},
    "ItalyPowerDemand": {"FCN": 0.961, "ResNet": 0.963, "TWIESN": 0.880},
}

_EXTRA = "pip install 'tinyrnn[data]' (sktime and statsmodels)"


def _import(module: str, what: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise InputError(f"{what} needs the optional package {module.split('.')[0]}: {_EXTRA}") from None


def _unknown(name, names, kind):
    return InputError(
        f"{name!r} is neither a file nor a named {kind}; the named ones are "
        f"{', '.join(names)} (a file must exist and end in .npz or .csv)"
    )


def load_classification(name: str) -> tuple[SequenceSet, SequenceSet]:
    """``(train, test)`` of a named benchmark, in its official split, labels as strings."""
    if name not in CLASSIFICATION:
        raise _unknown(name, CLASSIFICATION, "benchmark")
    datasets = _import("sktime.datasets", f"the benchmark {name}")
    loader = getattr(datasets, CLASSIFICATION[name])
    parts = []
    for split in ("train", "test"):
        X, y = loader(split=split, return_X_y=True)
        # nested frame: one row per sequence, one cell (a Series of its steps) per channel
        seqs = [
            np.stack([np.asarray(X.iloc[i, c], np.float64) for c in range(X.shape[1])], axis=1) for i in range(len(X))
        ]
        x, lengths = pad_sequences(seqs, np.float64, source=f"{name} ({split})")
        parts.append(SequenceSet(x, lengths, np.asarray(y).astype(str), f"{name} ({split})"))
    return parts[0], parts[1]


@dataclass
class Series:
    """One univariate series: ``values`` (N,) float, ``test_length`` (the held-out tail),
    ``season`` (its period in steps, 1 for none), ``log`` (whether its variation grows with its
    level, so that it is modelled in log scale), ``diff`` (the differences the forecaster learns
    by default: ``"first"``, ``"season"`` or ``"none"``), ``labels`` (a time label per value)."""

    name: str
    values: np.ndarray
    test_length: int
    season: int
    log: bool
    diff: str
    labels: list


def _airline() -> Series:
    datasets = _import("sktime.datasets", "the series airline")
    s = datasets.load_airline()
    return Series("airline", s.to_numpy(np.float64), 24, 12, True, "first", [str(p) for p in s.index])


def _sunspots() -> Series:
    datasets = _import("statsmodels.datasets", "the series sunspots")
    d = datasets.sunspots.load_pandas().data
    return Series(
        "sunspots", d["SUNACTIVITY"].to_numpy(np.float64), 22, 11, False, "none", [str(int(v)) for v in d["YEAR"]]
    )


SERIES = {"airline": _airline, "sunspots": _sunspots}


def load_series(name: str) -> Series:
    if name not in SERIES:
        raise _unknown(name, SERIES, "series")
    return SERIES[name]()
