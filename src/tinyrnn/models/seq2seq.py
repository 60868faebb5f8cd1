"""Seq2Seq: an encoder RNN whose final state starts a decoder RNN, on one-hot characters.

    encoder: RNN | LSTM | GRU (V -> H, num_layers, optionally bidirectional), lengths= per source
    bridge:  a bidirectional encoder's two final states are summed into the decoder's initial state
    decoder: same cell (V -> H, num_layers), teacher forcing in training
    head:    Linear(H, V), cross-entropy with padding ignored

Decoding feeds back the model's own predictions (greedy, or beam search with length
normalisation); it never sees the target.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .._check import choice, positive_int
from ..data.seq2seq import EOS, PAD, SOS
from ..functional import log_softmax
from ..init import make_rng
from ..losses import cross_entropy
from ..module import Module
from ..nn import GRU, LSTM, RNN, Linear

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def one_hot(ids: np.ndarray, size: int, dtype) -> np.ndarray:
    """ids (...) -> (..., size)."""
    out = np.zeros(ids.shape + (size,), dtype)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out


class Seq2Seq(Module):
    def __init__(self, vocab_size: int, hidden_size: int = 128, cell: str = "rnn", num_layers: int = 1,
                 bidirectional: bool = False, dtype=np.float32, rng=None):
        super().__init__(dtype)
        rng = make_rng(rng)
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.cell = choice("cell", cell, tuple(CELLS))
        self.bidirectional = bool(bidirectional)
        layer = CELLS[cell]
        self.encoder = layer(vocab_size, hidden_size, num_layers, bidirectional=bidirectional, dtype=dtype, rng=rng)
        self.decoder = layer(vocab_size, hidden_size, num_layers, dtype=dtype, rng=rng)
        self.head = Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)
        self.config = dict(vocab_size=vocab_size, hidden_size=hidden_size, cell=cell,
                           num_layers=num_layers, bidirectional=self.bidirectional, dtype=self.dtype.name)

    # ------------------------------------------------------------------ bridge
    def _bridge(self, enc_state):
        """Encoder final state(s) (D*L, B, H) -> decoder initial state(s) (L, B, H)."""
        if not self.bidirectional:
            return enc_state
        fold = lambda s: s.reshape(-1, 2, *s.shape[1:]).sum(axis=1)  # noqa: E731  (layer, direction) pairs
        return tuple(fold(s) for s in enc_state) if isinstance(enc_state, tuple) else fold(enc_state)

    def _bridge_back(self, dstate):
        if not self.bidirectional or dstate is None:
            return dstate
        unfold = lambda d: np.repeat(d, 2, axis=0)  # noqa: E731   the sum sends d to both directions
        return tuple(unfold(d) for d in dstate) if isinstance(dstate, tuple) else unfold(dstate)

    # ------------------------------------------------------------------ training
    def loss_and_backward(self, src, src_len, tgt):
        """One teacher-forced pass. src (B, S) ids with lengths src_len; tgt (B, T) ids padded
        with PAD (without start/end). Accumulates gradients; returns the mean loss per token."""
        B = src.shape[0]
        x = one_hot(src.T, self.vocab_size, self.dtype)                    # (S, B, V)
        _, enc_state, enc_cache = self.encoder.forward(x, None, lengths=src_len)
        tgt_in = np.concatenate([np.full((B, 1), SOS), tgt], axis=1)       # <s> y_1 .. y_n
        tgt_out = np.concatenate([tgt, np.full((B, 1), PAD)], axis=1)      # y_1 .. y_n </s>
        tgt_len = (tgt != PAD).sum(axis=1)
        tgt_out[np.arange(B), tgt_len] = EOS
        tgt_in[tgt_in == PAD] = EOS                                         # padded inputs: any symbol, outputs ignored
        dec_x = one_hot(tgt_in.T, self.vocab_size, self.dtype)              # (T+1, B, V)
        out, _, dec_cache = self.decoder.forward(dec_x, self._bridge(enc_state))
        logits, head_cache = self.head.forward(out)                         # (T+1, B, V)
        loss, dlogits = cross_entropy(logits, tgt_out.T, ignore_index=PAD)
        dout = self.head.backward(dlogits, head_cache)
        _, dstate0 = self.decoder.backward(dout, dec_cache)
        self.encoder.backward(None, enc_cache, self._bridge_back(dstate0))
        return loss

    # ------------------------------------------------------------------ decoding
    def _encode(self, src, src_len):
        x = one_hot(src.T, self.vocab_size, self.dtype)
        _, state = self.encoder(x, None, lengths=src_len)
        return self._bridge(state)

    def _step(self, tokens, state):
        """tokens (B,) -> log-probabilities (B, V), new state."""
        out, state = self.decoder(one_hot(tokens[None], self.vocab_size, self.dtype), state)
        return log_softmax(self.head(out[0])), state

    def greedy(self, src, src_len, max_len: int):
        """Batch greedy decoding -> list of id lists (without start/end)."""
        B = src.shape[0]
        state = self._encode(src, src_len)
        tokens = np.full(B, SOS)
        outputs = [[] for _ in range(B)]
        done = np.zeros(B, bool)
        for _ in range(max_len):
            logp, state = self._step(tokens, state)
            tokens = logp.argmax(axis=-1)
            for b in np.flatnonzero(~done):
                if tokens[b] == EOS:
                    done[b] = True
                else:
                    outputs[b].append(int(tokens[b]))
            if done.all():
                break
        return outputs

    def beam(self, src_ids, beam_size: int, max_len: int, alpha: float = 1.0):
        """Beam search for one source (list of ids). Finished hypotheses are ranked by
        log p / length^alpha (length normalisation). beam_size=1 is greedy decoding."""
        K = positive_int("beam", beam_size)
        state = self._encode(np.array([src_ids]), np.array([len(src_ids)]))
        rep = lambda s, idx: tuple(a[:, idx] for a in s) if isinstance(s, tuple) else s[:, idx]  # noqa: E731
        beams = [SimpleNamespace(tokens=[], logp=0.0)]
        states = state
        finished = []
        for _ in range(max_len):
            logp, new_states = self._step(np.array([b.tokens[-1] if b.tokens else SOS for b in beams]), states)
            total = np.array([b.logp for b in beams])[:, None] + logp            # (k, V)
            order = np.argsort(-total, axis=None, kind="stable")[: 2 * K]
            keep, keep_idx = [], []
            for flat in order:
                k, tok = divmod(int(flat), logp.shape[1])
                hyp = SimpleNamespace(tokens=beams[k].tokens + [tok], logp=float(total[k, tok]))
                if tok == EOS:
                    finished.append(hyp)
                else:
                    keep.append(hyp)
                    keep_idx.append(k)
                if len(keep) == K:
                    break
            if len(finished) >= K or not keep:
                break
            beams, states = keep, rep(new_states, np.array(keep_idx))
        pool = finished or beams
        best = max(pool, key=lambda h: self._score(h, alpha))
        return [t for t in best.tokens if t != EOS]

    @staticmethod
    def _score(hyp, alpha):
        return hyp.logp / max(len(hyp.tokens), 1) ** alpha
