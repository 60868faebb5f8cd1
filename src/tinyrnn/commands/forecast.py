"""``tinyrnn forecast train DATA``: forecast a named series or a column of the user's ``.csv``, beside
the naive, seasonal-naive, exponential-smoothing and ARIMA forecasts of the same split."""

from __future__ import annotations

import argparse
import csv
import os

import numpy as np

from ..errors import InputError, UsageError
from ._args import (
    _defaults,
    add_common,
    add_threads,
    positive,
    positive_float,
    print_json,
    report_stop,
)


def add_parser(sub) -> None:
    from ..models.forecaster import DIFFS, ForecastConfig
    from ..models.memory import CELLS

    d = _defaults(ForecastConfig)
    p = sub.add_parser(
        "forecast",
        help="forecast a time series: airline, sunspots or your .csv column",
        description="Forecast a series with a recurrent network, beside the classical baselines.",
    )
    verbs = p.add_subparsers(dest="verb", metavar="{train}", required=True)
    t = verbs.add_parser(
        "train",
        help="train on the series but its last HORIZON values, forecast those",
        description="DATA: airline or sunspots (needs the extra: pip install 'tinyrnn[data]'), "
        "or a .csv file with a header (--column names the series). The last "
        "--horizon values are the test part; everything is fitted on the rest.",
    )
    t.add_argument("data", metavar="DATA")
    t.add_argument("--column", help="CSV: the column holding the series (default: the last column)")
    t.add_argument(
        "--horizon",
        type=positive,
        help="values held out and forecast (default: the benchmark's test length; 12 for a .csv)",
    )
    t.add_argument("--season", type=positive, help="season length in steps (default: the benchmark's; 12 for a .csv)")
    t.add_argument(
        "--log",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="model the log of the series (default: on for airline, off otherwise)",
    )
    t.add_argument(
        "--diff",
        choices=DIFFS,
        default=None,
        help="differences the model learns: the change from one season earlier, from the previous "
        "value, or none (default: first for airline, none for sunspots, "
        f"{d['diff']} for a .csv)",
    )
    t.add_argument(
        "--window", type=positive, default=d["window"], help="past values the model reads (default %(default)s)"
    )
    t.add_argument("--cell", choices=CELLS, default=d["cell"], help="(default %(default)s)")
    t.add_argument("--hidden", type=positive, default=d["hidden"], help="(default %(default)s)")
    t.add_argument(
        "--epochs", type=positive, default=d["epochs"], help="passes over the training windows (default %(default)s)"
    )
    t.add_argument("--batch", type=positive, default=d["batch"], help="(default %(default)s)")
    t.add_argument("--lr", type=positive_float, default=d["lr"], help="(default %(default)s)")
    t.add_argument(
        "--ensemble",
        type=positive,
        default=d["ensemble"],
        help="models from different seeds, averaged (default %(default)s)",
    )
    t.add_argument("--plot", metavar="PNG", help="draw the history, the held-out truth, the forecast and the baselines")
    add_common(t)
    add_threads(t)
    t.set_defaults(run=_train)


def _read_csv(path, column):
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r]
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"DATA {path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    if len(rows) < 2:
        raise InputError(f"{path}: expected a header line and one value per line")
    header = [h.strip() for h in rows[0]]
    column = column or header[-1]
    if column not in header:
        raise InputError(f"{path}: no column {column!r}; the header has {header}")
    j, values = header.index(column), []
    for line, r in enumerate(rows[1:], start=2):
        try:
            values.append(float(r[j]))
        except (ValueError, IndexError):
            raise InputError(
                f"{path}, line {line}: column {column!r} holds {r[j] if j < len(r) else 'nothing'!r}, not a number"
            ) from None
    return column, np.array(values)


def _series(args):
    from ..data import benchmarks

    if args.data in benchmarks.SERIES:
        if args.column:
            raise UsageError(f"--column is for a .csv file; {args.data} is a named series")
        s = benchmarks.load_series(args.data)
        return (
            args.data,
            s.values,
            args.horizon or s.test_length,
            args.season or s.season,
            s.log if args.log is None else args.log,
            args.diff or s.diff,
        )
    if not os.path.isfile(args.data):
        raise UsageError(f"DATA {args.data!r} is neither a file nor a named series ({', '.join(benchmarks.SERIES)})")
    if os.path.splitext(args.data)[1].lower() != ".csv":
        raise UsageError(f"DATA {args.data}: expected a .csv file")
    column, values = _read_csv(args.data, args.column)
    from ..models.forecaster import ForecastConfig

    return (
        f"{os.path.basename(args.data)}:{column}",
        values,
        args.horizon or 12,
        args.season or 12,
        bool(args.log),
        args.diff or ForecastConfig.diff,
    )


def _train(args) -> int:
    from ..models.forecaster import (
        ForecastConfig,
        baselines,
        check_series,
        fit_forecaster,
        forecaster_plan,
        mae,
        rmse,
    )
    from ..train import Run
    from ._common import check_output

    inputs = {"DATA": args.data} if os.path.exists(args.data) else {}
    png = check_output("--plot", args.plot, image=True, inputs=inputs)
    say = (lambda *a: None) if args.quiet else print
    name, values, horizon, season, log, diff = _series(args)
    values = check_series(values, args.window, horizon, season, diff, name)
    train, test = values[:-horizon], values[-horizon:]
    cfg = ForecastConfig(
        window=args.window,
        cell=args.cell,
        hidden=args.hidden,
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        diff=diff,
        ensemble=args.ensemble,
    )
    say(
        f"{name}: {len(train)} training values, {horizon} held out; season {season}, "
        f"{'log scale, ' if log else ''}differences: {diff}; window {cfg.window}, "
        f"{cfg.ensemble} {cfg.cell.upper()} model(s) of {cfg.hidden} units, {cfg.epochs} epochs each"
    )

    def progress(member, epoch, loss):
        if epoch % 100 == 0:
            run.say(f"model {member + 1}/{cfg.ensemble}  epoch {epoch:4d}  training MSE {loss:.4f}")

    run = Run(
        forecaster_plan(cfg, len(train), horizon, season),
        say,
        quiet=args.quiet,
        desc="forecast",
        lr=cfg.lr,
        clip=cfg.clip or None,
        threads=args.threads,
        note_unsaved=False,
    )
    with run:
        fit = fit_forecaster(
            train, horizon, season, log, cfg, np.random.default_rng(args.seed), on_epoch=progress, run=run
        )
        base = baselines(train, horizon, season, log)
        if "ets" not in base:
            say("The ets and arima baselines are left out: they need statsmodels (pip install 'tinyrnn[data]')")
        scores = {k: rmse(v, test) for k, v in base.items()}
        result = {"test_rmse": rmse(fit["forecast"], test), "test_mae": mae(fit["forecast"], test)}
        kept = f"{len(fit['models'])} of {cfg.ensemble} models, " if fit["stopped"] else ""
        print(
            f"Test RMSE {result['test_rmse']:.2f}, MAE {result['test_mae']:.2f} over the last {horizon} values "
            f"({kept}{fit['train_seconds']:.1f} s of training)"
        )
        print("Baselines (test RMSE): " + ", ".join(f"{k} {v:.2f}" for k, v in scores.items()))
        if png:
            _plot(png, name, train, test, fit["forecast"], base)
            print(f"Plot written to {png}")
        metrics = {
            "dataset": name,
            "horizon": horizon,
            "test_rmse": result["test_rmse"],
            "test_mae": result["test_mae"],
            "baselines": scores,
            "baselines_mae": {k: mae(v, test) for k, v in base.items()},
            "seed": args.seed,
            "window": cfg.window,
            "log": log,
            "diff": diff,
            "ensemble": cfg.ensemble,
            "models_trained": len(fit["models"]),
            "forecast": fit["forecast"].tolist(),
            **run.metrics(),
        }
    code = report_stop(metrics, None, can_save=False)
    if args.json:
        print_json(metrics)
    return code


def _plot(path, name, train, test, forecast, base):
    from ._common import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.2))
    n, h = len(train), len(test)
    ax.plot(range(n), train, color="0.3", label="history")
    ax.plot(range(n, n + h), test, color="black", lw=2, label="held-out truth")
    for k, v in base.items():
        ax.plot(range(n, n + h), v, lw=1, ls="--", label=k)
    ax.plot(range(n, n + h), forecast, color="C3", lw=2, label="tinyrnn")
    ax.set_title(f"{name}: forecast of the last {h} values"), ax.set_xlabel("step"), ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
