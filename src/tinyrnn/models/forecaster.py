"""Forecasting one series: windows of the past -> a recurrent encoder -> the next ``horizon``
values at once (direct multi-step), and the classical baselines on the same split.

Direct, not recursive: one :class:`SequenceModel` reads the last ``window`` values and its head
outputs all ``horizon`` future values. It is trained on exactly the error it is judged by, and
its own mistakes are never fed back as inputs (a recursive one-step model compounds them over a
24-month horizon); the price is fewer training windows (``len - window - horizon + 1``).

The model works on a transformed series: log scale where the variation grows with the level
(``log``), then differences (``diff``: ``"first"`` subtracts the previous value, so the network
learns the step-to-step changes, the seasonal pattern included; ``"season"`` the value one
season earlier, so it learns the change from last year; ``"none"``), then standardised with the
mean and deviation of the training part. ``invert`` undoes all
three, feeding earlier forecasts in where a difference needs a future value. ``ensemble`` models
from different seeds are averaged (in the transformed scale).
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from .. import init
from ..errors import InputError
from ..losses import mse_loss
from ..optim import Adam
from ..schedule import CosineLR
from ..train import Plan, Run
from .classifier import SequenceModel, gradient_step

DIFFS = ("season", "first", "none")


@dataclass
class ForecastConfig:
    """The forecaster's settings (``tinyrnn forecast train`` takes its flag defaults here)."""

    window: int = 24  # past (transformed) values the model reads
    cell: str = "gru"
    hidden: int = 32
    epochs: int = 300  # passes over the training windows
    batch: int = 16
    lr: float = 3e-3  # Adam, cosine decay to 0
    clip: float = 1.0
    diff: str = "first"  # "first", "season" or "none"
    ensemble: int = 5  # models (seeds) averaged


class SeriesTransform:
    """log (optional) -> differences at ``lag`` (0: none) -> standardised, fitted on ``train``."""

    def __init__(self, train, log: bool, lag: int):
        train = np.asarray(train, np.float64)
        if log and (train <= 0).any():
            raise InputError(
                f"the series has a value <= 0 at position {int(np.argmax(train <= 0))}; "
                "log scale needs positive values (turn log off)"
            )
        self.log, self.lag, self.train = bool(log), int(lag), train
        z = self._difference(self._scale(train))
        self.mean, self.std = float(z.mean()), float(z.std()) or 1.0

    def _scale(self, v):
        return np.log(v) if self.log else v

    def _difference(self, s):
        return s[self.lag :] - s[: -self.lag] if self.lag else s

    def forward(self, values) -> np.ndarray:
        """values (N,) -> standardised z (N - lag,)."""
        return (self._difference(self._scale(np.asarray(values, np.float64))) - self.mean) / self.std

    def invert(self, z_future) -> np.ndarray:
        """Standardised future z (H,) following the training part -> future values (H,)."""
        d = np.asarray(z_future, np.float64) * self.std + self.mean
        s = list(self._scale(self.train))
        for step in d:
            s.append(step + (s[-self.lag] if self.lag else 0.0))
        out = np.array(s[len(self.train) :])
        return np.exp(out) if self.log else out


def windows(z, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """z (N,) -> inputs (M, window, 1) and targets (M, horizon), M = N - window - horizon + 1."""
    M = len(z) - window - horizon + 1
    if M < 1:
        raise InputError(
            f"the training part ({len(z)} values after differencing) is shorter than "
            f"window + horizon = {window} + {horizon}; use a smaller window or horizon"
        )
    idx = np.arange(M)[:, None]
    return z[idx + np.arange(window)][:, :, None], z[idx + window + np.arange(horizon)]


def _lag(diff: str, season: int) -> int:
    if diff not in DIFFS:
        raise ValueError(f"diff must be one of {DIFFS}, got {diff!r}")
    return {"season": season, "first": 1, "none": 0}[diff]


def check_series(values, window: int, horizon: int, season: int, diff: str, source: str = "series") -> np.ndarray:
    """The checks a user's series can fail, before any work: finite, long enough."""
    v = np.asarray(values, np.float64)
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise InputError(
            f"{source}: value {v[bad[0]]} at position {bad[0]} ({bad.size} in all); remove or fill them first"
        )
    need = _lag(diff, season) + window + 2 * horizon
    if len(v) < need:
        raise InputError(
            f"{source} has {len(v)} values, fewer than the {need} needed: the test part "
            f"(horizon {horizon}) + window {window} + horizon {horizon} for one training "
            f"window + lag {_lag(diff, season)}; use a smaller window or horizon"
        )
    return v


def forecaster_plan(config: ForecastConfig, n: int, horizon: int, season: int) -> Plan:
    """The plan of ``fit_forecaster`` on a training part of ``n`` values: every step of every
    epoch of every ensemble member."""
    windows_ = n - _lag(config.diff, season) - config.window - horizon + 1
    return Plan(config.ensemble * config.epochs * -(-max(windows_, 1) // config.batch))


def fit_forecaster(
    train,
    horizon: int,
    season: int,
    log: bool,
    config: ForecastConfig | None = None,
    rng=None,
    on_epoch=None,
    run: Run | None = None,
) -> dict:
    """Train ``config.ensemble`` models on the windows of ``train`` (N,) and forecast the next
    ``horizon`` values. ``on_epoch(member, epoch, loss)`` is called after each epoch.

    The loop runs inside a :class:`tinyrnn.train.Run`: ``run``, one the caller has entered (its
    plan ``forecaster_plan(config, len(train), horizon, season)``), or else a quiet one made
    here. A SIGINT/SIGTERM ends the training between steps; the forecast is then the average of
    the models trained so far, the one under way included (``stopped`` is True). A non-finite
    loss raises :class:`Diverged`.

    Returns ``{"forecast" (H,), "train_seconds", "losses" (one list of epoch losses per model),
    "models", "transform", "steps", "stopped"}``."""
    cfg = config or ForecastConfig()
    rng = init.make_rng(rng)
    tf = SeriesTransform(train, log, _lag(cfg.diff, season))
    z = tf.forward(train)
    X, Y = windows(z, cfg.window, horizon)  # (M, W, 1), (M, H)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    last = z[-cfg.window :][None, :, None].astype(np.float32)  # (1, W, 1)
    plan = forecaster_plan(cfg, len(train), horizon, season)
    per_epoch = -(-len(X) // cfg.batch)
    frame = nullcontext(run) if run is not None else Run(plan, quiet=True, lr=cfg.lr, clip=cfg.clip or None)
    models, curves, preds = [], [], []
    with frame as loop:
        steps = loop.steps()
        try:
            for member in range(cfg.ensemble):
                model = SequenceModel(cfg.cell, 1, cfg.hidden, horizon, rng=rng)
                opt = Adam(model.parameters(), lr=cfg.lr)
                schedule = CosineLR(cfg.lr, cfg.epochs * per_epoch, floor=0.0)
                models.append(model)
                curves.append([])
                for epoch in range(cfg.epochs):
                    losses = []
                    for k, idx in enumerate(np.array_split(rng.permutation(len(X)), per_epoch)):
                        step = next(steps, None)
                        if step is None:  # the plan is done, or a signal stopped the run
                            break
                        with loop.training(step):
                            loss = gradient_step(
                                model,
                                opt,
                                schedule.lr_at(epoch * per_epoch + k),
                                mse_loss,
                                X[idx],
                                Y[idx],
                                clip=cfg.clip,
                                step=step,
                                on_grad=lambda loss, norm, step=step: loop.check(loss, step, norm),
                            )
                        loop.log(loss)
                        losses.append(loss)
                    if losses:
                        curves[-1].append(float(np.mean(losses)))
                        if on_epoch is not None:
                            on_epoch(member, epoch + 1, curves[-1][-1])
                    if len(losses) < per_epoch:
                        break
                if len(curves[-1]) < cfg.epochs or len(losses) < per_epoch:
                    break
        finally:
            steps.close()
        kept = [i for i, c in enumerate(curves) if c] or [0]  # a member stopped before its first step: none
        models, curves = [models[i] for i in kept], [curves[i] for i in kept]
        with loop.evaluating():
            for model in models:
                model.eval()
                preds.append(model(last)[0])
    return {
        "forecast": tf.invert(np.mean(preds, axis=0)),
        "train_seconds": loop.timer.seconds,
        "losses": curves,
        "models": models,
        "transform": tf,
        "steps": loop.step,
        "stopped": loop.stop,
    }


def baselines(train, horizon: int, season: int, log: bool) -> dict:
    """Forecasts of the classical methods on the same split: ``naive`` (the last value),
    ``seasonal_naive`` (the last season repeated), ``ets`` (statsmodels' Holt-Winters exponential
    smoothing: additive trend, multiplicative seasonality where ``log``, additive otherwise; no
    seasonality where ``season`` is 1) and ``arima`` (statsmodels' SARIMAX: where ``log`` the
    Box-Jenkins airline model (0,1,1)(0,1,1)s on the log scale, otherwise AR(9) with a constant).
    Without statsmodels (the ``data`` extra) only the two naive forecasts are returned."""
    train = np.asarray(train, np.float64)
    out = {"naive": np.full(horizon, train[-1]), "seasonal_naive": np.resize(train[-season:], horizon)}
    try:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing
        from statsmodels.tsa.statespace.sarimax import SARIMAX
    except ImportError:
        return {k: np.asarray(v, np.float64) for k, v in out.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the forecasts are scored below
        seasonal = None if season < 2 else ("mul" if log else "add")
        ets = ExponentialSmoothing(
            train, trend="add" if log else None, seasonal=seasonal, seasonal_periods=season if seasonal else None
        )
        out["ets"] = ets.fit().forecast(horizon)
        if log:
            arima = SARIMAX(np.log(train), order=(0, 1, 1), seasonal_order=(0, 1, 1, season))
            out["arima"] = np.exp(arima.fit(disp=False).forecast(horizon))
        else:
            out["arima"] = SARIMAX(train, order=(9, 0, 0), trend="c").fit(disp=False).forecast(horizon)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def mae(a, b) -> float:
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))
