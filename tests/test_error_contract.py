"""The error contract of tinyrnn/errors.py as the command applies it: a caller's mistake exits 2,
a diverged training 3, and anything else — a plain ValueError or TypeError from inside the
library included — is a bug: exit 1, one line, the traceback only under TINYRNN_DEBUG=1."""

import numpy as np
import pytest

from tinyrnn import cli
from tinyrnn.checkpoint import CheckpointError, load, save
from tinyrnn.errors import CheckpointError as ContractCheckpointError
from tinyrnn.errors import CorpusError, Diverged, InputError, NonFiniteError, UsageError
from tinyrnn.nn import RNN, Linear
from tinyrnn.train import Plan, Run


def test_kinds_are_value_errors():
    for kind in (UsageError, CheckpointError, CorpusError, NonFiniteError):
        assert issubclass(kind, InputError) and issubclass(kind, ValueError)
    assert CheckpointError is ContractCheckpointError
    assert not issubclass(Diverged, ValueError)


@pytest.mark.parametrize("kind", [ValueError, TypeError])
def test_a_plain_error_inside_the_library_is_a_bug(monkeypatch, capsys, kind):
    def broken(self, *args, **kwargs):
        raise kind("shapes (1,8) and (7,8) not aligned")

    monkeypatch.setattr(RNN, "forward", broken)
    monkeypatch.delenv("TINYRNN_DEBUG", raising=False)
    assert cli.main(["hello", "--epochs", "2", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "tinyrnn hello: internal error" in err and kind.__name__ in err and "TINYRNN_DEBUG=1" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(monkeypatch, capsys):
    def broken(self, *args, **kwargs):
        raise ValueError("a wrong slice")

    monkeypatch.setattr(Linear, "forward", broken)
    monkeypatch.setenv("TINYRNN_DEBUG", "1")
    assert cli.main(["hello", "--epochs", "2", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "a wrong slice" in err


def test_a_library_refusal_of_the_callers_value_exits_2(capsys):
    # the library's own check (InputError), reached through a flag
    assert cli.main(["seq2seq", "translate", "missing.npz", "man"]) == 2
    assert capsys.readouterr().err.startswith("tinyrnn seq2seq translate: error: ")


def test_memory_divergence_exits_3(capsys):
    code = cli.main(
        [
            "memory",
            "adding",
            "--cell",
            "irnn",
            "--T",
            "20",
            "--steps",
            "200",
            "--lr",
            "1e3",
            "--clip",
            "0",
            "--optimizer",
            "sgd",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3, err
    assert err.startswith("tinyrnn memory adding: training diverged at step ") and "lower --lr" in err


def test_messages_are_prefixed_once(capsys):
    assert cli.main(["memory", "adding", "--cell", "gru", "--forget-bias", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "tinyrnn memory adding: error: --forget-bias sets the lstm's forget gates; --cell gru has none"
    assert cli.main(["add", "--bits", "1"]) == 2
    assert capsys.readouterr().err.count("error:") == 1


def _one_step(error):
    with Run(Plan(steps=1), quiet=True) as run:
        for step in run.steps():
            with run.training(step):
                raise error


def test_divergence_is_recognised_by_type_not_text():
    with pytest.raises(Diverged):
        _one_step(NonFiniteError("x contains something odd"))
    with pytest.raises(InputError):  # a message naming NaN is not a divergence
        _one_step(InputError("lengths must not be NaN or inf"))


def test_the_archive_reader_passes_errors_that_are_not_archive_errors(tmp_path, monkeypatch):
    """A numpy whose .npy header reader refuses a keyword (numpy 1.23.0-1.23.4 has no
    max_header_size) is not a corrupt file: the TypeError is a bug and reaches the caller."""
    path = tmp_path / "m.npz"
    layer = Linear(3, 2, rng=0)
    save(path, layer)

    def old_reader(fh, **kwargs):
        if kwargs:
            raise TypeError("read_array_header_1_0() got an unexpected keyword argument 'max_header_size'")

    monkeypatch.setattr(np.lib.format, "read_array_header_1_0", old_reader)
    with pytest.raises(TypeError):
        load(path, Linear(3, 2))


def test_the_archive_reader_turns_damaged_bytes_into_checkpoint_error(tmp_path):
    path = tmp_path / "m.npz"
    save(path, Linear(3, 2, rng=0))
    data = bytearray(path.read_bytes())
    data[len(data) // 2 :] = b"\0" * (len(data) - len(data) // 2)
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        load(path, Linear(3, 2))


def _classifier_batch():
    from tinyrnn.models.classifier import SequenceClassifier

    rng = np.random.default_rng(0)
    model = SequenceClassifier("gru", 3, 6, 4, rng=rng)
    return model, rng.normal(size=(5, 7, 3)).astype(np.float32), np.array([0, 1, 2, 3, 0])


def test_gradient_step_guards_once_before_the_update():
    """The divergence guard runs once a step, after the backward and before the weights change:
    by default ``check_finite``; a loop's ``on_grad`` replaces it (no second test after the step)."""
    from tinyrnn.losses import cross_entropy
    from tinyrnn.models.classifier import gradient_step
    from tinyrnn.optim import Adam, grad_norm

    model, x, y = _classifier_batch()
    opt = Adam(model.parameters(), lr=0.01)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(
        Diverged, match=r"^training diverged at step 4 \(loss=inf\); lower --lr \(now 0.01\) or set --clip below 1$"
    ):
        gradient_step(model, opt, 0.01, lambda out, t: (np.inf, cross_entropy(out, t)[1]), x, y, clip=1.0, step=4)
    assert all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before))  # nothing updated

    seen = []

    def on_grad(loss, norm):
        seen.append((loss, norm, grad_norm(opt.params)))

    loss = gradient_step(model, opt, 0.01, cross_entropy, x, y, step=1, on_grad=on_grad)
    assert len(seen) == 1 and seen[0][0] == loss and seen[0][1] == pytest.approx(seen[0][2]) and np.isfinite(loss)
    assert not all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before))  # then the step


def test_classifier_fit_diverges_through_the_runs_check(monkeypatch):
    """A non-finite loss inside ``fit_classifier`` is stopped by the Run's check (its lr and clip
    in the message), before the update."""
    import tinyrnn.models.classifier as clf

    model, x, y = _classifier_batch()
    real = clf.cross_entropy
    monkeypatch.setattr(clf, "cross_entropy", lambda out, t: (np.nan, real(out, t)[1]))
    lengths = np.full(len(y), x.shape[1])
    with pytest.raises(
        Diverged, match=r"^training diverged at step 1 \(loss=nan\); lower --lr \(now 0.01\) or set --clip below 1$"
    ):
        clf.fit_classifier(model, (x, lengths, y), config=clf.FitConfig(epochs=1, batch=5, lr=0.01, clip=1.0))
