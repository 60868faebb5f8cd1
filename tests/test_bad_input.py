"""Every public entry refuses bad input early, naming the argument, what was expected and what came."""

import numpy as np
import pytest

import tinyrnn as tr


@pytest.fixture
def rnn():
    return tr.RNN(3, 4, num_layers=2, rng=0)


def test_rnn_wrong_ndim(rnn):
    with pytest.raises(ValueError, match=r"x must be 3-D \(T, B, input_size\).*got shape \(3,\)"):
        rnn(np.zeros(3, np.float32))


def test_rnn_wrong_feature_size(rnn):
    with pytest.raises(ValueError, match=r"input_size=3, got shape \(5, 2, 7\)"):
        rnn(np.zeros((5, 2, 7), np.float32))


def test_rnn_integer_input(rnn):
    with pytest.raises(TypeError, match="x must be a floating-point array, got dtype int64"):
        rnn(np.zeros((5, 2, 3), np.int64))


def test_rnn_nan_input(rnn):
    x = np.zeros((5, 2, 3), np.float32)
    x[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        rnn(x)


def test_rnn_empty_sequence(rnn):
    with pytest.raises(ValueError, match="at least one time step"):
        rnn(np.zeros((0, 2, 3), np.float32))


def test_rnn_bad_h0_shape(rnn):
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 2, 4\).*got \(1, 2, 4\)"):
        rnn(np.zeros((5, 2, 3), np.float32), np.zeros((1, 2, 4), np.float32))


def test_rnn_bad_h0_unbatched(rnn):
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 4\)"):
        rnn(np.zeros((5, 3), np.float32), np.zeros((2, 1, 4), np.float32))


def test_rnn_bad_dout_shape(rnn):
    out, hn, cache = rnn.forward(np.zeros((5, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"dout must have shape \(5, 2, 4\), got \(5, 2, 3\)"):
        rnn.backward(np.zeros((5, 2, 3), np.float32), cache)
    with pytest.raises(ValueError, match=r"dh_n must have shape \(2, 2, 4\)"):
        rnn.backward(None, cache, np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="cache must be"):
        rnn.backward(out, {"not": "a cache"})


def test_rnn_bad_constructor_args():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        tr.RNN(3, 4, nonlinearity="softplus")
    with pytest.raises(ValueError, match="hidden_size must be > 0, got -3"):
        tr.RNN(3, -3)
    with pytest.raises(TypeError, match="input_size must be an int"):
        tr.RNN(3.5, 4)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        tr.RNN(3, 4, dropout=1.5)
    with pytest.raises(TypeError, match="dtype must be"):
        tr.RNN(3, 4, dtype=np.int32)
    with pytest.raises(TypeError, match="rng must be"):
        tr.RNN(3, 4, rng="seed")


@pytest.mark.parametrize(
    "lengths,match",
    [
        ([3, 3, 3], r"lengths must have shape \(2,\)"),
        ([0, 3], r"lengths must be in \[1, T=5\]"),
        ([6, 3], r"lengths must be in \[1, T=5\]"),
        ([2.5, 3.0], "lengths must be an integer array"),
    ],
)
def test_rnn_bad_lengths(rnn, lengths, match):
    with pytest.raises((ValueError, TypeError), match=match):
        rnn(np.zeros((5, 2, 3), np.float32), lengths=np.array(lengths))


def test_cell_bad_input():
    cell = tr.RNNCell(3, 4)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\)"):
        cell(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"h must have shape \(2, 4\)"):
        cell(np.zeros((2, 3), np.float32), np.zeros((3, 4), np.float32))


def test_linear_bad_input():
    lin = tr.Linear(3, 4)
    with pytest.raises(ValueError, match=r"x must have shape \(\*, 3\) for in_features=3, got \(2, 5\)"):
        lin(np.zeros((2, 5), np.float32))
    with pytest.raises(TypeError, match="x must be a floating-point"):
        lin(np.zeros((2, 3), np.int32))


def test_embedding_bad_input():
    emb = tr.Embedding(5, 2)
    with pytest.raises(TypeError, match="idx must be an integer array of indexes, got dtype float64"):
        emb(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="idx must have every index < 5, got 7"):
        emb(np.array([1, 7]))
    with pytest.raises(ValueError, match="idx must have every index >= 0, got -1"):
        emb(np.array([-1]))
    with pytest.raises(ValueError, match="padding_idx"):
        tr.Embedding(5, 2, padding_idx=9)


def test_loss_bad_input():
    with pytest.raises(ValueError, match=r"targets must have shape \(3,\)"):
        tr.cross_entropy(np.zeros((3, 4)), np.zeros(4, np.int64))
    with pytest.raises(TypeError, match="targets must be an integer array"):
        tr.cross_entropy(np.zeros((3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\)"):
        tr.cross_entropy(np.zeros((3, 4)), np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        tr.mse_loss(np.zeros(3), np.zeros(3), reduction="avg")
    with pytest.raises(ValueError, match="target must have the shape of pred"):
        tr.mse_loss(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"prob must be probabilities in \[0, 1\]"):
        tr.bce_loss(np.array([1.5]), np.array([1.0]))
    with pytest.raises(ValueError, match="logits contains NaN"):
        tr.bce_with_logits(np.array([np.nan]), np.array([1.0]))


def test_optimizer_bad_input():
    with pytest.raises(ValueError, match="at least one Parameter"):
        tr.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="params must be Parameters"):
        tr.Adam([np.zeros(3)])
    p = [tr.Parameter(np.zeros(3))]
    with pytest.raises(ValueError, match="lr must be >= 0"):
        tr.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="betas"):
        tr.Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        tr.clip_grad_norm_(p, -1)


@pytest.mark.parametrize("cls", [tr.LSTM, tr.GRU])
@pytest.mark.parametrize(
    "lengths,match",
    [
        ([3, 3, 3], r"lengths must have shape \(2,\)"),
        ([0, 3], r"lengths must be in \[1, T=5\]"),
        ([6, 3], r"lengths must be in \[1, T=5\]"),
        ([2.0, 3.0], "lengths must be an integer array"),
    ],
)
def test_gated_bad_lengths(cls, lengths, match):
    layer = cls(3, 4)
    with pytest.raises((ValueError, TypeError), match=match):
        layer(np.zeros((5, 2, 3), np.float32), lengths=np.array(lengths))


def test_lstm_state_must_be_a_pair():
    lstm = tr.LSTM(3, 4)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(TypeError, match=r"hx must be a pair \(h, c\)"):
        lstm(x, np.zeros((1, 2, 4), np.float32))
    with pytest.raises(TypeError, match=r"hx must be a pair"):
        lstm(x, (np.zeros((1, 2, 4), np.float32),))
    out, _, cache = lstm.forward(x)
    with pytest.raises(TypeError, match=r"dh_n must be a pair"):
        lstm.backward(out, cache, np.zeros((1, 2, 4), np.float32))


def test_gated_state_shapes():
    lstm = tr.LSTM(3, 4, proj_size=2)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 2, 2\)"):
        lstm(x, (np.zeros((1, 2, 4), np.float32), None))
    with pytest.raises(ValueError, match=r"c0 must have shape \(1, 2, 4\)"):
        lstm(x, (None, np.zeros((1, 2, 2), np.float32)))
    gru = tr.GRU(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 2, 4\)"):
        gru(x, np.zeros((1, 2, 4), np.float32))
    with pytest.raises(ValueError, match="proj_size must be smaller than hidden_size=4"):
        tr.LSTM(3, 4, proj_size=4)
    cell = tr.LSTMCell(3, 4)
    with pytest.raises(TypeError, match="hx must be a pair"):
        cell(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"c must have shape \(2, 4\)"):
        cell(np.zeros((2, 3), np.float32), (np.zeros((2, 4), np.float32), np.zeros((3, 4), np.float32)))
