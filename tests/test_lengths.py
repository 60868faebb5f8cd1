"""lengths= semantics: a padded batch gives each sequence exactly what it gives alone."""

import numpy as np

import tinyrnn as tr


def test_lengths_equal_one_at_a_time():
    """A padded batch with lengths= gives each sequence exactly what it gives alone."""
    rng = np.random.default_rng(0)
    for layer in (
        tr.RNN(3, 4, 2, bidirectional=True, dtype=np.float64, rng=1),
        tr.LSTM(3, 4, 2, bidirectional=True, dtype=np.float64, rng=1),
        tr.GRU(3, 4, 2, bidirectional=True, dtype=np.float64, rng=1),
    ):
        x = rng.standard_normal((6, 3, 3))
        lengths = np.array([6, 2, 4])
        out, hn = layer(x, lengths=lengths)
        for b, n in enumerate(lengths):
            o1, h1 = layer(x[:n, b])
            np.testing.assert_allclose(out[:n, b], o1, rtol=1e-12, atol=1e-14)
            assert np.all(out[n:, b] == 0)
            for s, s1 in zip(hn if isinstance(hn, tuple) else (hn,), h1 if isinstance(h1, tuple) else (h1,)):
                np.testing.assert_allclose(s[:, b], s1, rtol=1e-12, atol=1e-14)


def test_editing_outputs_in_place_does_not_change_gradients():
    """forward's outputs are the caller's: editing them must not corrupt the cache."""
    rng = np.random.default_rng(1)
    for layer in (
        tr.RNN(3, 4, rng=1, dtype=np.float64),
        tr.LSTM(3, 4, rng=1, dtype=np.float64),
        tr.GRU(3, 4, rng=1, dtype=np.float64),
    ):
        x = rng.standard_normal((5, 2, 3))
        out, hn, cache = layer.forward(x)
        G = rng.standard_normal(out.shape)
        dx_ref, _ = layer.backward(G, cache)
        out, hn, cache = layer.forward(x)
        out *= 0
        for s in hn if isinstance(hn, tuple) else (hn,):
            s *= 0
        dx, _ = layer.backward(G, cache)
        np.testing.assert_array_equal(dx, dx_ref)
