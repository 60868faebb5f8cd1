"""``tinyrnn classify train DATA`` and ``tinyrnn classify predict CKPT DATA``: sequence classification
on a named benchmark or on the user's ``.npz`` / long-form ``.csv``."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ..errors import UsageError
from ._args import (
    _defaults,
    _float_in,
    add_common,
    add_threads,
    count,
    exit_codes,
    nonneg,
    positive,
    positive_float,
    print_json,
    report_stop,
    times,
)


def add_parser(sub) -> None:
    from ..models.classifier import POOLS, ClassifierConfig, FitConfig
    from ..models.memory import CELLS

    m, f = _defaults(ClassifierConfig), _defaults(FitConfig)
    p = sub.add_parser(
        "classify",
        help="classify sequences: a named benchmark or your .npz / .csv",
        description="Train a recurrent sequence classifier, or predict with one.",
        epilog=exit_codes(trains=True, check=False),
    )
    verbs = p.add_subparsers(dest="verb", metavar="{train,predict}", required=True)
    t = verbs.add_parser(
        "train",
        help="train on DATA and report test accuracy",
        description="DATA: JapaneseVowels, GunPoint or ItalyPowerDemand (official train/test "
        "splits; needs the extra: pip install 'tinyrnn[data]'), or a .npz (x (N, T, F), "
        "optional lengths (N,), y (N,)) or long-form .csv file.",
        epilog=exit_codes(trains=True, check=False),
    )
    t.add_argument("data", metavar="DATA")
    t.add_argument("--test", metavar="FILE", help="a separate test file (same format as DATA)")
    t.add_argument(
        "--test-fraction",
        type=_float_in(0.0, 1.0, low_open=True, high_open=True),
        default=0.2,
        help="part of a DATA file held out for testing, stratified and seeded (default %(default)s)",
    )
    t.add_argument(
        "--val-fraction",
        type=_float_in(0.0, 1.0, high_open=True),
        default=0.0,
        help="part of the training data held out (stratified) to stop early (--patience) and keep "
        "the best epoch; 0: train on all of it for --epochs (default %(default)s)",
    )
    _csv_flags(t)
    t.add_argument("--cell", choices=CELLS, default=m["cell"], help="recurrent cell (default %(default)s)")
    t.add_argument(
        "--hidden", type=positive, default=m["hidden"], help="hidden units per direction (default %(default)s)"
    )
    t.add_argument("--layers", type=positive, default=m["layers"], help="recurrent layers (default %(default)s)")
    t.add_argument(
        "--bidirectional",
        action=argparse.BooleanOptionalAction,
        default=m["bidirectional"],
        help="read each sequence in both directions (default %(default)s)",
    )
    t.add_argument(
        "--pool",
        choices=POOLS,
        default=m["pool"],
        help="what the head reads: the last state, or the mean or max over the steps (default %(default)s)",
    )
    t.add_argument(
        "--dropout",
        type=_float_in(0.0, 1.0),
        default=m["dropout"],
        help="dropout on the pooled features and between layers (default %(default)s)",
    )
    t.add_argument(
        "--epochs",
        type=positive,
        default=f["epochs"],
        help="passes over the training data, at most (default %(default)s)",
    )
    t.add_argument("--batch", type=positive, default=f["batch"], help="sequences per step (default %(default)s)")
    t.add_argument(
        "--lr", type=positive_float, default=f["lr"], help="Adam's learning rate, cosine-decayed (default %(default)s)"
    )
    t.add_argument("--weight-decay", type=_float_in(0.0), default=f["weight_decay"], help="(default %(default)s)")
    t.add_argument(
        "--clip",
        type=_float_in(0.0),
        default=f["clip"],
        help="gradient-norm clipping, 0 for none (default %(default)s)",
    )
    t.add_argument(
        "--patience",
        type=nonneg,
        default=f["patience"],
        help="stop after this many epochs without a lower validation loss, 0 for never (default %(default)s)",
    )
    t.add_argument(
        "--save", metavar="CKPT", help="write the best model to this .npz checkpoint; also on Ctrl-C/SIGTERM"
    )
    t.add_argument("--plot", metavar="PNG", help="draw the learning curves and the confusion matrix")
    add_common(t)
    add_threads(t)
    t.set_defaults(run=_train)
    q = verbs.add_parser(
        "predict",
        help="predict the classes of DATA with a checkpoint",
        description="Labels in DATA are optional; where present, the accuracy is reported.",
        epilog=exit_codes(trains=False, check=False),
    )
    q.add_argument("checkpoint", metavar="CKPT")
    q.add_argument("data", metavar="DATA")
    _csv_flags(q, predict=True)
    q.add_argument("--json", action="store_true", help="print the predictions as one JSON object on the last line")
    q.set_defaults(run=_predict)


CSV_DEFAULTS = {"id_column": "id", "label_column": "label", "feature_columns": None}


def _csv_flags(p, predict=False):
    kept = "the column the model was trained with, else " if predict else ""
    p.add_argument("--id-column", help=f"CSV: the sequence id column (default: {kept}id)")
    p.add_argument("--label-column", help=f"CSV: the label column (default: {kept}label)")
    p.add_argument(
        "--feature-columns",
        metavar="A,B,...",
        help="CSV: the feature columns, in order (default: "
        + ("those the model was trained on, else " if predict else "")
        + "all others)",
    )


def _reading(args, trained=None, checkpoint=None) -> dict:
    """How to read a .csv (load_csv's column arguments): the flags given, else the training's
    columns (``trained``, from the checkpoint; None for a model trained on a .npz or a benchmark,
    or saved before they were kept), else CSV_DEFAULTS."""
    given = dict(
        id_column=args.id_column,
        label_column=args.label_column,
        feature_columns=[c.strip() for c in args.feature_columns.split(",")] if args.feature_columns else None,
    )
    trained = trained or {}
    columns, kept = given["feature_columns"], trained.get("feature_columns")
    if columns and kept and columns != kept:
        was = f"the model in {checkpoint} was trained on the {len(kept)} columns {','.join(kept)}"
        if len(columns) != len(kept):
            raise UsageError(
                f"--feature-columns {args.feature_columns}: {was}; leave --feature-columns out to read "
                f"those, or give {len(kept)} columns to read in their place"
            )
        print(f"note: {was}; reading {','.join(columns)} in their place", file=sys.stderr)
    return {k: v if v is not None else trained.get(k, CSV_DEFAULTS[k]) for k, v in given.items()}


def _read(path, reading, flag="DATA", labels=True):
    """The sequences of a .npz or .csv file (``reading``: the columns of a .csv, from ``_reading``)."""
    from ..data.sequences import load_csv, load_npz

    ext = os.path.splitext(path)[1].lower()
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path} is a folder; give a .npz or .csv file")
    if not os.path.isfile(path):
        raise UsageError(f"{flag} {path}: no such file")
    if ext == ".npz":
        return load_npz(path, labels=labels)
    if ext == ".csv":
        return load_csv(path, labels=labels, **reading)
    raise UsageError(f"{flag} {path}: expected a .npz or .csv file")


def _data(args):
    """(train, test, name, published) for a named benchmark or the user's file(s)."""
    from ..data import benchmarks
    from ..data.sequences import encode_labels, stratified_split

    if args.data in benchmarks.CLASSIFICATION:
        if args.test:
            raise UsageError(f"--test: {args.data} has its official test split; --test is for your own files")
        train, test = benchmarks.load_classification(args.data)
        return train, test, args.data, benchmarks.PUBLISHED[args.data]
    if not os.path.exists(args.data) and not os.path.splitext(args.data)[1]:
        raise UsageError(
            f"DATA {args.data!r} is neither a file nor a named benchmark ({', '.join(benchmarks.CLASSIFICATION)})"
        )
    reading = _reading(args)
    data = _read(args.data, reading)
    if args.test:
        test = _read(args.test, reading, "--test")
        if test.x.shape[2] != data.x.shape[2]:
            raise UsageError(
                f"--test {args.test} has {_features(test)}, but DATA {args.data} has {_features(data)}; "
                "give test data with the same features"
            )
        return data, test, os.path.basename(args.data), {}
    codes, _ = encode_labels(data.y)
    keep, held = stratified_split(codes, args.test_fraction, np.random.default_rng(args.seed))
    if len(held) == 0:
        raise UsageError(
            f"--test-fraction {args.test_fraction} of {args.data} leaves no test sequences; "
            "give more data or --test FILE"
        )
    return data.subset(keep), data.subset(held), os.path.basename(args.data), {}


def _train(args) -> int:
    from ..data.sequences import Standardizer, encode_labels, stratified_split
    from ..models.classifier import (
        FitConfig,
        SequenceClassifier,
        classifier_plan,
        evaluate,
        fit_classifier,
        save_classifier,
    )
    from ..train import Run, ce_ceiling
    from ._common import check_output

    inputs = {k: v for k, v in (("DATA", args.data), ("--test", args.test)) if v and os.path.exists(v)}
    save = check_output("--save", args.save, inputs=inputs, outputs={"--plot": args.plot})
    png = check_output("--plot", args.plot, image=True, inputs=inputs, outputs={"--save": save})
    say = (lambda *a: None) if args.quiet else print
    train, test, name, published = _data(args)
    meta = {"dataset": name}
    if train.columns is not None:  # how predict reads a .csv the same way
        meta["csv"] = {**_reading(args), "feature_columns": list(train.columns)}
    y_train, classes = encode_labels(train.y)
    if len(classes) < 2:
        raise UsageError(
            f"{train.source}: every training sequence has the label {classes[0]!r}; "
            "classification needs at least 2 classes"
        )
    y_test, _ = encode_labels(test.y, classes)
    rng = np.random.default_rng(args.seed)
    fit_idx, val_idx = (
        stratified_split(y_train, args.val_fraction, rng) if args.val_fraction > 0 else (np.arange(len(y_train)), None)
    )
    scaler = Standardizer().fit(train.x[fit_idx], train.lengths[fit_idx])
    x_train = scaler.transform(train.x, train.lengths)
    x_test = scaler.transform(test.x, test.lengths)
    model = SequenceClassifier(
        args.cell,
        train.x.shape[2],
        args.hidden,
        len(classes),
        args.layers,
        args.bidirectional,
        args.pool,
        args.dropout,
        rng=rng,
    )
    cfg = FitConfig(
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        weight_decay=args.weight_decay,
        clip=args.clip,
        patience=args.patience,
    )
    val = None if val_idx is None else (x_train[val_idx], train.lengths[val_idx], y_train[val_idx])
    say(
        f"{name}: {len(fit_idx)} training + {0 if val_idx is None else len(val_idx)} validation sequences, "
        f"{len(y_test)} test; {count(train.x.shape[2], 'feature')}, lengths {train.lengths.min()}-"
        f"{train.lengths.max()}, {len(classes)} classes; {model.num_parameters()} parameters"
    )

    def progress(r):
        if r["epoch"] % 10 == 0 or r["epoch"] == 1:
            v = (
                ""
                if r["val_loss"] is None
                else f"  val loss {r['val_loss']:.4f}  val acc {100 * r['val_accuracy']:.1f}%"
            )
            run.say(
                f"epoch {r['epoch']:4d}  step {r['step']:6d}  lr {r['lr']:.2e}  train loss {r['train_loss']:.4f}{v}"
            )

    n_fit = len(fit_idx)
    run = Run(
        classifier_plan(cfg, n_fit),
        say,
        quiet=args.quiet,
        desc="classify",
        lr=cfg.lr,
        clip=cfg.clip or None,
        ceiling=ce_ceiling(len(classes)),
        threads=args.threads,
        save=save and (lambda: save_classifier(save, model, scaler, classes, meta=meta)),
    )
    with run:
        fit = fit_classifier(
            model,
            (x_train[fit_idx], train.lengths[fit_idx], y_train[fit_idx]),
            val,
            cfg,
            rng,
            on_epoch=progress,
            run=run,
        )
        with run.evaluating():
            ev = evaluate(model, x_test, test.lengths, y_test)
        say(f"Kept epoch {fit['best_epoch']} of {fit['epochs']} ({fit['steps']} steps, {times(run.metrics())})")
        print(f"Test accuracy: {100 * ev['accuracy']:.2f}% ({round(ev['accuracy'] * len(y_test))}/{len(y_test)})")
        if published:
            print("Published (Fawaz et al. 2019): " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in published.items()))
        _print_confusion(classes, ev)
        run.save_now()  # first: a plot that fails must not cost the model
        if save:
            print(f"Checkpoint written to {save}")
        if png:
            _plot(png, name, fit["history"], classes, ev["confusion"])
            print(f"Plot written to {png}")
        metrics = {
            "dataset": name,
            "cell": args.cell,
            "n_train": len(y_train),
            "n_test": len(y_test),
            "test_accuracy": ev["accuracy"],
            "published": published,
            "best_epoch": fit["best_epoch"],
            "kept_step": fit["kept_step"],
            "epochs": fit["epochs"],
            "seed": args.seed,
            "per_class": {c: (None if np.isnan(a) else float(a)) for c, a in zip(classes, ev["per_class"])},
            "confusion": ev["confusion"].tolist(),
            **run.metrics(),
        }
    code = report_stop(metrics, save)
    if args.json:
        print_json(metrics)
    return code


def _print_confusion(classes, ev):
    width = max(6, *(len(c) for c in classes))
    print("Per-class accuracy and confusion matrix (rows: true, columns: predicted):")
    print(" " * width + "  " + " ".join(f"{c[:width]:>{width}}" for c in classes) + "  accuracy")
    for c, row, acc in zip(classes, ev["confusion"], ev["per_class"]):
        a = "   -" if np.isnan(acc) else f"{100 * acc:6.1f}%"
        print(f"{c[:width]:>{width}}  " + " ".join(f"{v:>{width}d}" for v in row) + f"  {a}")


def _plot(path, name, history, classes, confusion):
    from ._common import pyplot

    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    epochs = [r["epoch"] for r in history]
    a.plot(epochs, [r["train_loss"] for r in history], label="training loss")
    if history and history[0]["val_loss"] is not None:
        a.plot(epochs, [r["val_loss"] for r in history], label="validation loss")
    a.set_xlabel("epoch"), a.set_ylabel("cross-entropy"), a.set_yscale("log"), a.legend()
    a.set_title(f"{name}: learning curves")
    b.imshow(confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(confusion):
        b.text(j, i, str(v), ha="center", va="center", fontsize=8)
    b.set_xticks(range(len(classes)), classes), b.set_yticks(range(len(classes)), classes)
    b.set_xlabel("predicted"), b.set_ylabel("true"), b.set_title("test confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _predict(args) -> int:
    from ..data.sequences import encode_labels
    from ..models.classifier import evaluate, load_classifier

    if not os.path.isfile(args.checkpoint):
        raise UsageError(f"CKPT {args.checkpoint}: no such file")
    model, scaler, classes, meta = load_classifier(args.checkpoint)
    trained = meta.get("csv")  # None: trained on a .npz or a benchmark, or saved before the columns were kept
    data = _read(args.data, _reading(args, trained, args.checkpoint), labels=False)
    _check_features(args, data, model.rnn.input_size, trained)
    x = scaler.transform(data.x, data.lengths)
    pred = model.predict(x, data.lengths)
    names = [classes[i] for i in pred]
    out = {"predictions": names}
    if data.y is not None:
        y, _ = encode_labels(data.y, classes)
        ev = evaluate(model, x, data.lengths, y)
        out["accuracy"] = ev["accuracy"]
    if args.json:
        print_json(out)
        return 0
    for i, n in enumerate(names):
        print(f"{i}\t{n}")
    if "accuracy" in out:
        print(f"Accuracy: {100 * out['accuracy']:.2f}% of {len(names)}")
    return 0


def _check_features(args, data, size, trained) -> None:
    """The data has the model's number of features, else one line on what each has."""
    if data.x.shape[2] == size:
        return
    kept = (trained or {}).get("feature_columns")
    has, was = _features(data), count(size, "feature") + (f" ({','.join(kept)})" if kept else "")
    fix = "name its columns with --feature-columns" if data.columns is not None else f"give x with {size} features"
    raise UsageError(f"DATA {args.data} has {has}, but the model in {args.checkpoint} was trained on {was}; {fix}")


def _features(data) -> str:
    """How many features ``data`` has, and their columns where known: "3 features (a,b,c)"."""
    return count(data.x.shape[2], "feature") + (f" ({','.join(data.columns)})" if data.columns else "")
