"""``tinyrnn classify`` and ``tinyrnn forecast`` on tiny synthetic data: .npz and .csv, the pinned
--json keys, a checkpoint that predict reads back, every bad input as one line and exit 2, and
the training skeleton around their loops (Ctrl-C, --threads, the progress line off a terminal).
The named benchmarks need the optional extra (sktime, statsmodels): those tests are marked
``data`` and skipped without it."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinyrnn
from tinyrnn import cli, train
from tinyrnn.models import classifier as clf
from tinyrnn.models import forecaster as fc

FAST = ["--epochs", "3", "--hidden", "6", "--quiet"]
FAST_FORECAST = [
    "--epochs",
    "2",
    "--hidden",
    "4",
    "--ensemble",
    "1",
    "--window",
    "6",
    "--horizon",
    "4",
    "--season",
    "4",
    "--quiet",
]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def synthetic(n=40, T=9, F=2, seed=0):
    r = np.random.default_rng(seed)
    lengths = r.integers(3, T + 1, n)
    y = np.arange(n) % 2
    x = 0.3 * r.standard_normal((n, T, F))
    x[:, :, 0] += np.where(y == 1, 1.0, -1.0)[:, None]
    for i, t in enumerate(lengths):
        x[i, t:] = 0
    return x, lengths, np.array(["down", "up"])[y]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("classify")
    x, lengths, y = synthetic()
    np.savez(d / "seqs.npz", x=x, lengths=lengths, y=y)
    rows = ["id,a,b,label"] + [
        f"s{i},{x[i, t, 0]:.17g},{x[i, t, 1]:.17g},{y[i]}" for i in range(len(y)) for t in range(lengths[i])
    ]
    (d / "seqs.csv").write_text("\n".join(rows) + "\n")
    xt, lt, yt = synthetic(12, seed=1)
    np.savez(d / "test.npz", x=xt, lengths=lt, y=yt)
    np.savez(d / "unlabelled.npz", x=xt, lengths=lt)
    np.savez(d / "newlabel.npz", x=xt, lengths=lt, y=np.where(yt == "up", "sideways", yt))
    np.savez(d / "oneclass.npz", x=x, lengths=lengths, y=np.full(len(y), "up"))
    np.savez(d / "zerolength.npz", x=x, lengths=np.where(np.arange(len(y)) == 5, 0, lengths), y=y)
    bad = x.copy()
    bad[7, 1, 1] = np.nan
    np.savez(d / "nan.npz", x=bad, lengths=lengths, y=y)
    series = 10 + np.sin(np.arange(60) * np.pi / 2) + 0.05 * np.arange(60)
    (d / "series.csv").write_text("t,value\n" + "".join(f"{i},{v:.17g}\n" for i, v in enumerate(series)))
    (d / "short.csv").write_text("t,value\n" + "".join(f"{i},{v:.17g}\n" for i, v in enumerate(series[:12])))
    return d


def test_classify_train_npz_json_keys_and_predict(capsys, files, tmp_path):
    ck = tmp_path / "model.npz"
    code, out, err = run(capsys, "classify", "train", files / "seqs.npz", *FAST, "--save", ck, "--json")
    assert code == 0, err
    m = last_json(out)
    for key in ("dataset", "cell", "n_train", "n_test", "test_accuracy", "train_seconds", "published"):
        assert key in m
    assert m["dataset"] == "seqs.npz" and m["published"] == {} and m["n_train"] + m["n_test"] == 40
    assert m["n_test"] == 8 and 0.0 <= m["test_accuracy"] <= 1.0  # --test-fraction 0.2, stratified
    assert "confusion matrix" in out and sum(map(sum, m["confusion"])) == 8
    code, out, err = run(capsys, "classify", "predict", ck, files / "unlabelled.npz", "--json")
    assert code == 0, err
    assert set(last_json(out)["predictions"]) <= {"down", "up"} and len(last_json(out)["predictions"]) == 12
    code, out, _ = run(capsys, "classify", "predict", ck, files / "test.npz")
    assert code == 0 and "Accuracy:" in out


def test_classify_train_csv_with_test_file_and_plot(capsys, files, tmp_path):
    png = tmp_path / "curves.png"
    code, out, err = run(
        capsys,
        "classify",
        "train",
        files / "seqs.csv",
        "--test",
        files / "test.npz",
        "--pool",
        "mean",
        "--cell",
        "lstm",
        "--no-bidirectional",
        *FAST,
        "--plot",
        png,
        "--json",
    )
    assert code == 0, err
    m = last_json(out)
    assert m["n_train"] == 40 and m["n_test"] == 12 and m["cell"] == "lstm"
    assert png.stat().st_size > 1000


def write_long_csv(path, header, x, lengths, y=None, extra=None):
    """A long-form .csv with the columns of ``header`` ("id", "label", feature "f<k>" for x[..., k],
    any other name: ``extra``'s value), one row per step."""
    rows = [",".join(header)]
    for i in range(len(lengths)):
        for t in range(lengths[i]):
            cell = {"id": f"s{i}", "label": None if y is None else y[i], "extra": extra}
            cell.update({f"f{k}": f"{x[i, t, k]:.17g}" for k in range(x.shape[2])})
            rows.append(",".join(str(cell[h]) for h in header))
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def csv_model(files, tmp_path_factory):
    """A model trained on a .csv whose columns have their own names and hold a feature it must not read."""
    d = tmp_path_factory.mktemp("csv_model")
    x, lengths, y = synthetic(F=3)
    write_long_csv(d / "train.csv", ["id", "f0", "f2", "f1", "label"], x, lengths, y)
    text = (d / "train.csv").read_text().replace("id,f0,f2,f1,label", "seq,a,noise,b,cls", 1)
    (d / "train.csv").write_text(text)
    ck = d / "model.npz"
    argv = ["classify", "train", d / "train.csv", "--id-column", "seq", "--label-column", "cls"]
    assert cli.main([str(a) for a in [*argv, "--feature-columns", "a,b", *FAST, "--save", ck]]) == 0
    xt, lt, _ = synthetic(12, F=3, seed=1)
    np.savez(d / "test.npz", x=xt[:, :, :2], lengths=lt)
    write_long_csv(d / "test.csv", ["extra", "f1", "id", "f2", "f0"], xt, lt, extra=7)  # no labels, other order
    (d / "test.csv").write_text((d / "test.csv").read_text().replace("extra,f1,id,f2,f0", "extra,b,seq,noise,a", 1))
    return d, ck


def test_predict_reads_a_csv_as_the_training_did(capsys, csv_model):
    d, ck = csv_model
    _, _, _, meta = clf.load_classifier(ck)
    assert meta["csv"] == dict(id_column="seq", label_column="cls", feature_columns=["a", "b"])
    code, out, err = run(capsys, "classify", "predict", ck, d / "test.csv", "--json")
    assert code == 0 and err == "", err
    code, out_npz, err = run(capsys, "classify", "predict", ck, d / "test.npz", "--json")
    assert code == 0, err
    assert last_json(out)["predictions"] == last_json(out_npz)["predictions"]  # a, b by name, in the trained order


def test_predict_says_which_columns_the_model_was_trained_on(capsys, csv_model):
    d, ck = csv_model
    code, out, err = run(capsys, "classify", "predict", ck, d / "test.csv", "--feature-columns", "a,noise")
    assert code == 0 and len(out.splitlines()) == 12
    assert err == f"note: the model in {ck} was trained on the 2 columns a,b; reading a,noise in their place\n"
    code, out, err = run(capsys, "classify", "predict", ck, d / "test.csv", "--feature-columns", "a,b,noise")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "was trained on the 2 columns a,b; leave --feature-columns out" in err


def test_predict_with_a_checkpoint_that_kept_no_columns(capsys, files, tmp_path):
    """A checkpoint saved without the training's columns reads a .csv as before: id, label, every
    other column a feature; a column too many is one line naming both counts."""
    from tinyrnn.data.sequences import Standardizer, load_npz

    data = load_npz(files / "seqs.npz")
    model = clf.SequenceClassifier("gru", 2, 4, 2, rng=np.random.default_rng(0))
    scaler = Standardizer().fit(data.x, data.lengths)
    ck = tmp_path / "old.npz"
    clf.save_classifier(ck, model, scaler, ["down", "up"], meta={"dataset": "seqs.csv"})
    x, lengths, _ = synthetic(12, seed=1)
    write_long_csv(tmp_path / "plain.csv", ["id", "f0", "f1"], x, lengths)
    code, out, err = run(capsys, "classify", "predict", ck, tmp_path / "plain.csv", "--json")
    assert code == 0 and len(last_json(out)["predictions"]) == 12, err
    write_long_csv(tmp_path / "more.csv", ["id", "f0", "f1", "extra"], x, lengths, extra=1)
    code, _, err = run(capsys, "classify", "predict", ck, tmp_path / "more.csv")
    assert code == 2 and len(err.splitlines()) == 1
    assert "has 3 features (f0,f1,extra), but the model in" in err and "was trained on 2 features;" in err
    code, out, err = run(capsys, "classify", "predict", ck, tmp_path / "more.csv", "--feature-columns", "f0,f1")
    assert code == 0 and len(out.splitlines()) == 12, err


@pytest.mark.parametrize(
    "csv",
    [
        "id",
        {"id_column": "id", "label_column": "label"},
        {"id_column": "id", "label_column": "label", "feature_columns": ["a"]},
        {"id_column": 3, "label_column": "label", "feature_columns": ["a", "b"]},
    ],
)
def test_a_checkpoint_with_a_broken_csv_entry_is_refused(capsys, files, tmp_path, csv):
    from tinyrnn.data.sequences import Standardizer, load_npz

    data = load_npz(files / "seqs.npz")
    model = clf.SequenceClassifier("gru", 2, 4, 2, rng=np.random.default_rng(0))
    ck = tmp_path / "crafted.npz"
    scaler = Standardizer().fit(data.x, data.lengths)
    clf.save_classifier(ck, model, scaler, ["down", "up"], meta={"dataset": "x", "csv": csv})
    code, out, err = run(capsys, "classify", "predict", ck, files / "seqs.csv")
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert "meta csv must be {id_column, label_column, feature_columns} with 2 feature columns" in err


def test_a_test_file_with_other_features_is_one_line(capsys, files, tmp_path):
    x, lengths, y = synthetic(12, F=3)
    np.savez(tmp_path / "three.npz", x=x, lengths=lengths, y=y)
    code, _, err = run(capsys, "classify", "train", files / "seqs.csv", "--test", tmp_path / "three.npz", *FAST)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert (
        f"--test {tmp_path / 'three.npz'} has 3 features, but DATA {files / 'seqs.csv'} has 2 features (a,b); " in err
    )


def test_one_feature_is_singular(capsys, tmp_path):
    x, lengths, y = synthetic()
    np.savez(tmp_path / "one.npz", x=x[:, :, 0], lengths=lengths, y=y)
    code, out, err = run(capsys, "classify", "train", tmp_path / "one.npz", "--epochs", "1", "--hidden", "4")
    assert code == 0, err
    assert "; 1 feature, lengths" in out


def test_classify_learns_the_synthetic_task(capsys, files):
    code, out, err = run(
        capsys, "classify", "train", files / "seqs.npz", "--epochs", "30", "--hidden", "8", "--quiet", "--json"
    )
    assert code == 0, err
    assert last_json(out)["test_accuracy"] == 1.0  # the classes differ by a mean of 2 standard deviations


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{d}/seqs.csv", "--label-column", "class"], "no column 'class'"),
        (["{d}/seqs.npz", "--test", "{d}/newlabel.npz"], "labels ['sideways'] are not among the training labels"),
        (["{d}/nan.npz"], "nan in sequence 7, step 1, feature 1"),
        (["{d}/zerolength.npz"], "sequence 5 has length 0"),
        (["{d}/oneclass.npz"], "every training sequence has the label 'up'"),
        (["{d}/missing.npz"], "no such file"),
        (["NoSuchBenchmark"], "neither a file nor a named benchmark"),
        (["{d}/seqs.npz", "--test-fraction", "1.5"], "--test-fraction"),
    ],
)
def test_classify_bad_input_is_one_line_and_exit_2(capsys, files, argv, message):
    code, _, err = run(capsys, "classify", "train", *[a.format(d=files) for a in argv], *FAST)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_classify_predict_refuses_a_checkpoint_of_another_kind(capsys, files, tmp_path):
    assert cli.main(["add", "--steps", "2", "--quiet", "--save", str(tmp_path / "add.npz")]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, "classify", "predict", tmp_path / "add.npz", files / "test.npz")
    assert code == 2 and "not a sequence-classifier checkpoint" in err


def test_forecast_csv_json_keys_and_plot(capsys, files, tmp_path):
    png = tmp_path / "f.png"
    code, out, err = run(capsys, "forecast", "train", files / "series.csv", *FAST_FORECAST, "--plot", png, "--json")
    assert code == 0, err
    m = last_json(out)
    for key in ("dataset", "horizon", "test_rmse", "test_mae", "baselines"):
        assert key in m
    assert m["horizon"] == 4 and m["dataset"] == "series.csv:value"
    assert {"naive", "seasonal_naive", "ets", "arima"} <= set(m["baselines"])
    assert m["baselines"]["seasonal_naive"] < m["baselines"]["naive"]  # a period-4 series
    assert png.stat().st_size > 1000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{d}/short.csv"], "fewer than the"),
        (["{d}/series.csv", "--column", "price"], "no column 'price'"),
        (["nosuchseries"], "neither a file nor a named series"),
    ],
)
def test_forecast_bad_input_is_one_line_and_exit_2(capsys, files, argv, message):
    code, _, err = run(capsys, "forecast", "train", *[a.format(d=files) for a in argv], *FAST_FORECAST)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


# ------------------------------------------------------------------ named benchmarks (optional extra)
@pytest.mark.data
def test_named_benchmark_reports_published_numbers(capsys):
    pytest.importorskip("sktime")
    code, out, err = run(capsys, "classify", "train", "ItalyPowerDemand", "--epochs", "1", "--quiet", "--json")
    assert code == 0, err
    m = last_json(out)
    assert m["n_train"] == 67 and m["n_test"] == 1029 and m["published"]["FCN"] == 0.961
    assert "Published (Fawaz et al. 2019)" in out


@pytest.mark.data
def test_named_benchmarks_have_their_official_splits():
    pytest.importorskip("sktime")
    from tinyrnn.data.benchmarks import load_classification

    train, test = load_classification("JapaneseVowels")
    assert (len(train), len(test)) == (270, 370) and train.x.shape[2] == 12
    assert train.lengths.min() >= 7 and max(train.lengths.max(), test.lengths.max()) <= 29


@pytest.mark.data
def test_named_series_forecast(capsys):
    pytest.importorskip("sktime")
    pytest.importorskip("statsmodels")
    code, out, err = run(
        capsys, "forecast", "train", "airline", "--epochs", "1", "--ensemble", "1", "--quiet", "--json"
    )
    assert code == 0, err
    m = last_json(out)
    assert m["horizon"] == 24 and abs(m["baselines"]["seasonal_naive"] - 76.99) < 0.01


def test_missing_extra_gives_a_clear_message(capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sktime(name, *args, **kwargs):
        if name.startswith("sktime"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sktime)
    code, _, err = run(capsys, "classify", "train", "GunPoint")
    assert code == 2 and "pip install 'tinyrnn[data]'" in err


def test_classify_validation_split_for_early_stopping(capsys, files):
    code, out, err = run(
        capsys,
        "classify",
        "train",
        files / "seqs.npz",
        "--val-fraction",
        "0.25",
        "--patience",
        "2",
        "--epochs",
        "40",
        "--hidden",
        "6",
        "--json",
    )
    assert code == 0, err
    m = last_json(out)
    assert "val loss" in out and m["best_epoch"] <= m["epochs"] <= 40
    assert "training + 8 validation sequences" in out  # 25 % of the 32 training sequences


@pytest.mark.parametrize(
    "argv", [["classify"], ["classify", "train"], ["classify", "predict"], ["forecast"], ["forecast", "train"]]
)
def test_help_texts(capsys, argv):
    with pytest.raises(SystemExit):
        cli.main(argv + ["--help"])
    out = capsys.readouterr().out
    assert "%%" not in out and "(default None)" not in out and "exit codes:" in out


# ------------------------------------------------------------------ the training skeleton (tinyrnn.train.Run)
def signal_at(monkeypatch, module, at_step, signum=signal.SIGINT, times=1):
    """Make ``module.gradient_step`` send ``signum`` to this process (``times`` times) inside step ``at_step``."""
    real = module.gradient_step

    def step(*args, **kwargs):
        loss = real(*args, **kwargs)
        if kwargs.get("step", args[-1] if len(args) > 8 else None) == at_step:
            for _ in range(times):
                os.kill(os.getpid(), signum)
        return loss

    monkeypatch.setattr(module, "gradient_step", step)


def test_classify_ctrl_c_exits_130_with_a_loadable_checkpoint(capsys, files, tmp_path, monkeypatch):
    signal_at(monkeypatch, clf, 3)
    ck = tmp_path / "model.npz"
    code, out, err = run(capsys, "classify", "train", files / "seqs.npz", *FAST, "--save", ck, "--json")
    assert code == 130, err
    m = last_json(out)
    assert m["signal"] == "Ctrl-C (SIGINT)" and m["exit_code"] == 130 and m["steps"] == 3  # stopped after step 3
    assert m["epochs"] == 2 and 0.0 <= m["test_accuracy"] <= 1.0  # 2 steps an epoch: epoch 2 cut short
    assert f"Stopped by Ctrl-C (SIGINT) at step 3; checkpoint of step {m['kept_step']} written to {ck}" in out
    model, _, classes, meta = clf.load_classifier(ck)
    assert classes == ["down", "up"] and meta["dataset"] == "seqs.npz" and model.config["hidden_size"] == 6
    code, out, err = run(capsys, "classify", "predict", ck, files / "test.npz", "--json")
    assert code == 0, err
    p = last_json(out)
    assert len(p["predictions"]) == 12 and set(p["predictions"]) <= {"down", "up"} and 0.0 <= p["accuracy"] <= 1.0


def test_classify_second_signal_stops_at_once_and_keeps_the_best_epoch(capsys, files, tmp_path, monkeypatch):
    signal_at(monkeypatch, clf, 5, times=2)
    ck = tmp_path / "model.npz"
    kept = {}
    real = clf.SequenceClassifier.load_state_dict

    def load(self, state, *a, **k):  # the keep-best restore, before the save
        kept["restored"] = True
        return real(self, state, *a, **k)

    monkeypatch.setattr(clf.SequenceClassifier, "load_state_dict", load)
    code, _, err = run(
        capsys,
        "classify",
        "train",
        files / "seqs.npz",
        "--epochs",
        "10",
        "--hidden",
        "6",
        "--val-fraction",
        "0.25",
        "--save",
        ck,
        "--quiet",
    )
    assert code == 130 and "interrupted" in err
    assert kept.get("restored") and clf.load_classifier(ck)[0].num_parameters() > 0


def test_classify_threads_and_timers_in_the_json(capsys, files):
    code, out, err = run(capsys, "classify", "train", files / "seqs.npz", *FAST, "--threads", "1", "--json")
    assert code == 0, err
    m = last_json(out)
    assert m["threads"] == 1 and m["threads_reason"]
    assert m["train_seconds"] > 0 and m["eval_seconds"] > 0 and m["signal"] is None and m["exit_code"] == 0
    assert m["steps"] == 3 * 2  # 32 training sequences, batches of 16, 3 epochs


def test_classify_progress_line_off_a_terminal(capsys, files, monkeypatch):
    monkeypatch.setattr(train, "PROGRESS_SECONDS", 0.0)
    code, out, err = run(capsys, "classify", "train", files / "seqs.npz", "--epochs", "3", "--hidden", "6")
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("classify: step ")]
    assert lines[0].startswith("classify: step 1/6, loss ") and "steps/s" in lines[0] and lines[0].endswith(" left")
    assert len(lines) >= 4 and all("/6, loss " in line for line in lines)  # 32 sequences, batches of 16, 3 epochs


def test_classify_divergence_guard(capsys, files, monkeypatch):
    """A loss above the ceiling (10 ln C) ends the run as diverged: one line, exit 3."""
    real = clf.cross_entropy
    monkeypatch.setattr(clf, "cross_entropy", lambda y, t: (100.0, real(y, t)[1]))
    code, _, err = run(capsys, "classify", "train", files / "seqs.npz", *FAST)
    assert code == 3 and "diverged" in err.lower() and len(err.strip().splitlines()) == 1, err


def test_forecast_ctrl_c_exits_130_with_the_models_so_far(capsys, files, monkeypatch):
    signal_at(monkeypatch, fc, 3)
    code, out, err = run(
        capsys,
        "forecast",
        "train",
        files / "series.csv",
        *FAST_FORECAST[:4],
        "--epochs",
        "50",
        "--ensemble",
        "3",
        *FAST_FORECAST[6:],
        "--threads",
        "1",
        "--json",
    )
    assert code == 130, err
    m = last_json(out)
    assert m["signal"] == "Ctrl-C (SIGINT)" and m["steps"] == 3 and m["models_trained"] == 1 and m["threads"] == 1
    assert np.isfinite(m["forecast"]).all() and np.isfinite(m["test_rmse"])
    assert "Stopped by Ctrl-C (SIGINT) at step 3" in out and "--save" not in out


def test_forecast_steps_follow_the_plan(capsys, files):
    code, out, err = run(capsys, "forecast", "train", files / "series.csv", *FAST_FORECAST, "--json")
    assert code == 0, err
    m = last_json(out)
    cfg = fc.ForecastConfig(window=6, epochs=2, ensemble=1)
    assert m["steps"] == fc.forecaster_plan(cfg, 60 - 4, 4, 4).steps and m["train_seconds"] > 0


def test_python_dash_m_tinyrnn():
    src = str(Path(tinyrnn.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-m", "tinyrnn", "classify", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0 and "usage: tinyrnn classify" in done.stdout


@pytest.mark.parametrize("flag_name", ["--test-fraction", "--val-fraction"])
def test_a_fraction_of_one_is_refused_in_one_line(capsys, files, flag_name):
    code, _, err = run(capsys, "classify", "train", files / "seqs.npz", *FAST, flag_name, "1")
    assert code == 2 and f"argument {flag_name}: expected a number" in err and "< 1" in err
    assert len(err.strip().splitlines()) == 1


def test_a_folder_as_data_is_named_a_folder(capsys, tmp_path):
    code, _, err = run(capsys, "classify", "train", tmp_path)
    assert code == 2 and "is a folder; give a .npz or .csv file" in err
