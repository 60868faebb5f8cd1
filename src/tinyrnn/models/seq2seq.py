"""Seq2Seq: an encoder RNN whose final state starts a decoder RNN, on one-hot characters,
optionally with attention over the encoder's outputs.

    encoder:   RNN | LSTM | GRU (V -> H, num_layers, optionally bidirectional), lengths= per source
    bridge:    a bidirectional encoder's two final states are summed into the decoder's initial state
    decoder:   same cell (V -> H, num_layers), teacher forcing in training
    attention: (optional) the decoder output h_t queries the encoder outputs k_s (D*H each):
               c_t = Attention(h_t, k, lengths), h~_t = tanh(W_c [h_t; c_t])   (Luong et al. 2015)
    head:      Linear(H, V) on h_t (no attention) or h~_t, cross-entropy with padding ignored

Without input feeding the decoder's inputs are known in advance under teacher forcing, so the
decoder runs as one sequence layer and the attention of all T decoder steps is one call
(``Attention.forward_steps``). Decoding feeds back the model's own predictions (greedy, or
beam search with length normalisation); it never sees the target.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .._check import choice, positive_int
from ..data.seq2seq import EOS, PAD, SOS, pad_batch
from ..errors import InputError
from ..functional import log_softmax
from ..init import make_rng
from ..losses import cross_entropy
from ..module import Module, evaluation, prefixed
from ..nn import CELLS, Attention, Linear
from ..nn.recurrent import regularisers

ATTENTION = ("none", "dot", "general", "additive")


def one_hot(ids: np.ndarray, size: int, dtype) -> np.ndarray:
    """ids (...) -> (..., size)."""
    out = np.zeros(ids.shape + (size,), dtype)
    np.put_along_axis(out, ids[..., None], 1.0, axis=-1)
    return out


class Seq2Seq(Module):
    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 128,
        cell: str = "rnn",
        num_layers: int = 1,
        bidirectional: bool = False,
        attention: str = "none",
        dtype=np.float32,
        rng=None,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
        layer_norm: bool = False,
    ):
        super().__init__(dtype)
        rng = make_rng(rng)
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.cell = choice("cell", cell, tuple(CELLS))
        self.bidirectional = bool(bidirectional)
        layer = CELLS[cell]
        # the regularising options of both recurrent layers (docs/bptt.md, "Regularised recurrences")
        options = dict(
            recurrent_dropout=recurrent_dropout, weight_drop=weight_drop, zoneout=zoneout, layer_norm=layer_norm
        )
        self.encoder = layer(
            vocab_size, hidden_size, num_layers, bidirectional=bidirectional, dtype=dtype, rng=rng, **options
        )
        self.decoder = layer(vocab_size, hidden_size, num_layers, dtype=dtype, rng=rng, **options)
        self.head = Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)
        self.attention_kind = choice("attention", attention, ATTENTION)
        if attention != "none":
            key_size = hidden_size * (2 if self.bidirectional else 1)
            if attention == "dot" and self.bidirectional:
                raise InputError(
                    "attention='dot' needs encoder outputs of the decoder's size; a bidirectional "
                    f"encoder's are 2*hidden_size={key_size}: use 'general' or 'additive'"
                )
            self.attention = Attention(hidden_size, key_size, attention, dtype=dtype, rng=rng)
            self.combine = Linear(hidden_size + key_size, hidden_size, bias=False, dtype=dtype, rng=rng)  # W_c
        self.config = dict(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            cell=cell,
            num_layers=num_layers,
            bidirectional=self.bidirectional,
            attention=attention,
            dtype=self.dtype.name,
        )
        self.config.update(regularisers(self.decoder))  # when on

    @staticmethod
    def param_shapes(config: dict):
        """(name, shape) of every parameter of ``Seq2Seq(**config)``, without allocating."""
        v, h, layers = config["vocab_size"], config.get("hidden_size", 128), config.get("num_layers", 1)
        cell = CELLS[choice("cell", config.get("cell", "rnn"), tuple(CELLS))]
        bidirectional, attention = bool(config.get("bidirectional")), config.get("attention", "none")
        ln = bool(config.get("layer_norm", False))
        yield from prefixed(
            "encoder.",
            cell.param_shapes(
                dict(input_size=v, hidden_size=h, num_layers=layers, bidirectional=bidirectional, layer_norm=ln)
            ),
        )
        yield from prefixed(
            "decoder.", cell.param_shapes(dict(input_size=v, hidden_size=h, num_layers=layers, layer_norm=ln))
        )
        yield from prefixed("head.", Linear.param_shapes(dict(in_features=h, out_features=v)))
        if choice("attention", attention, ATTENTION) != "none":
            key_size = h * (2 if bidirectional else 1)
            yield from prefixed(
                "attention.", Attention.param_shapes(dict(query_size=h, key_size=key_size, kind=attention))
            )
            yield from prefixed(
                "combine.", Linear.param_shapes(dict(in_features=h + key_size, out_features=h, bias=False))
            )

    # ------------------------------------------------------------------ bridge
    def _bridge(self, enc_state):
        """Encoder final state(s) (D*L, B, H) -> decoder initial state(s) (L, B, H)."""
        if not self.bidirectional:
            return enc_state
        fold = lambda s: s.reshape(-1, 2, *s.shape[1:]).sum(axis=1)  # (layer, direction) pairs
        return tuple(fold(s) for s in enc_state) if isinstance(enc_state, tuple) else fold(enc_state)

    def _bridge_back(self, dstate):
        if not self.bidirectional or dstate is None:
            return dstate
        unfold = lambda d: np.repeat(d, 2, axis=0)  # the sum sends d to both directions
        return tuple(unfold(d) for d in dstate) if isinstance(dstate, tuple) else unfold(dstate)

    # ------------------------------------------------------------------ attention
    def _attend(self, out, memory):
        """Decoder outputs h (T, B, H) -> features for the head (T, B, H) and a cache.
        h~_t = tanh(W_c [h_t; c_t]) with c_t from every decoder step at once."""
        if memory is None:
            return out, None, None
        keys, src_len, projected = memory  # (S, B, D*H), (B,), (B, S, A) or None
        if projected is None:
            context, weights, att_cache = self.attention.forward_steps(out, keys, src_len)  # (T, B, D*H), (T, B, S)
        else:  # decoding: one step
            context, weights, att_cache = self.attention.forward(out[0], keys, src_len, projected)
            context, weights = context[None], weights[None]
        pre, comb_cache = self.combine.forward(np.concatenate([out, context], axis=-1))
        h_tilde = np.tanh(pre)  # (T, B, H)
        return h_tilde, weights, (att_cache, comb_cache, h_tilde)

    def _attend_back(self, dfeat, cache):
        """Gradient of ``_attend``: dfeat (T, B, H) -> d out (T, B, H), d keys (S, B, D*H) or None."""
        if cache is None:
            return dfeat, None
        att_cache, comb_cache, h_tilde = cache
        dcat = self.combine.backward(dfeat * (1 - h_tilde * h_tilde), comb_cache)  # tanh' = 1 - h~^2
        H = h_tilde.shape[-1]
        dquery, dkeys = self.attention.backward_steps(dcat[..., H:], att_cache)
        return dcat[..., :H] + dquery, dkeys

    # ------------------------------------------------------------------ training
    def _teacher_forced(self, src, src_len, tgt):
        """Forward of one teacher-forced pass: logits (T+1, B, V), targets (T+1, B), weights, caches."""
        B = src.shape[0]
        x = one_hot(src.T, self.vocab_size, self.dtype)  # (S, B, V)
        enc_out, enc_state, enc_cache = self.encoder.forward(x, None, lengths=src_len)
        tgt_in = np.concatenate([np.full((B, 1), SOS), tgt], axis=1)  # <s> y_1 .. y_n
        tgt_out = np.concatenate([tgt, np.full((B, 1), PAD)], axis=1)  # y_1 .. y_n </s>
        tgt_len = (tgt != PAD).sum(axis=1)
        tgt_out[np.arange(B), tgt_len] = EOS
        tgt_in[tgt_in == PAD] = EOS  # padded inputs: any symbol, outputs ignored
        dec_x = one_hot(tgt_in.T, self.vocab_size, self.dtype)  # (T+1, B, V)
        out, _, dec_cache = self.decoder.forward(dec_x, self._bridge(enc_state))
        memory = (enc_out, src_len, None) if self.attention_kind != "none" else None
        feat, weights, att_cache = self._attend(out, memory)
        logits, head_cache = self.head.forward(feat)  # (T+1, B, V)
        return logits, tgt_out.T, weights, (enc_cache, dec_cache, att_cache, head_cache)

    def loss_and_backward(self, src, src_len, tgt):
        """One teacher-forced pass. src (B, S) ids with lengths src_len; tgt (B, T) ids padded
        with PAD (without start/end). Accumulates gradients; returns the mean loss per token."""
        logits, targets, _, (enc_cache, dec_cache, att_cache, head_cache) = self._teacher_forced(src, src_len, tgt)
        loss, dlogits = cross_entropy(logits, targets, ignore_index=PAD)
        dfeat = self.head.backward(dlogits, head_cache)
        dout, dkeys = self._attend_back(dfeat, att_cache)
        _, dstate0 = self.decoder.backward(dout, dec_cache)
        self.encoder.backward(dkeys, enc_cache, self._bridge_back(dstate0))  # dkeys reach every encoder step
        return loss

    def attention_weights(self, src_ids, out_ids) -> np.ndarray:
        """Weights (len(out_ids) + 1, len(src_ids)) of the decoder reading out_ids (then </s>)
        with src_ids as the source: row t is where output t looked."""
        if self.attention_kind == "none":
            raise InputError("this model has no attention (trained with --attention none)")
        with evaluation(self):
            _, _, weights, _ = self._teacher_forced(
                np.array([src_ids]), np.array([len(src_ids)]), np.array([list(out_ids)], dtype=np.int64).reshape(1, -1)
            )
        return weights[:, 0]

    # ------------------------------------------------------------------ decoding
    def _encode(self, src, src_len):
        """Decoder initial state(s) and the attention memory (keys (S, B, D*H), lengths) or None."""
        x = one_hot(src.T, self.vocab_size, self.dtype)
        enc_out, state = self.encoder(x, None, lengths=src_len)
        if self.attention_kind == "none":
            return self._bridge(state), None
        projected = self.attention.project_keys(enc_out) if self.attention_kind == "additive" else None
        return self._bridge(state), (enc_out, np.asarray(src_len), projected)

    def _step(self, tokens, state, memory=None):
        """tokens (B,) -> log-probabilities (B, V), new state."""
        out, state = self.decoder(one_hot(tokens[None], self.vocab_size, self.dtype), state)
        feat, _, _ = self._attend(out, memory)  # (1, B, H)
        return log_softmax(self.head(feat[0])), state

    def greedy(self, src, src_len, max_len: int):
        """Batch greedy decoding -> list of id lists (without start/end)."""
        B = src.shape[0]
        state, memory = self._encode(src, src_len)
        tokens = np.full(B, SOS)
        outputs = [[] for _ in range(B)]
        done = np.zeros(B, bool)
        for _ in range(max_len):
            logp, state = self._step(tokens, state, memory)
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
        state, memory = self._encode(np.array([src_ids]), np.array([len(src_ids)]))
        rep = lambda s, idx: tuple(a[:, idx] for a in s) if isinstance(s, tuple) else s[:, idx]
        beams = [SimpleNamespace(tokens=[], logp=0.0)]
        states = state
        finished = []
        for _ in range(max_len):
            mem = (
                None
                if memory is None
                else (
                    np.repeat(memory[0], len(beams), axis=1),
                    memory[1].repeat(len(beams)),
                    None if memory[2] is None else memory[2].repeat(len(beams), axis=0),
                )
            )
            logp, new_states = self._step(np.array([b.tokens[-1] if b.tokens else SOS for b in beams]), states, mem)
            total = np.array([b.logp for b in beams])[:, None] + logp  # (k, V)
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


# ---------------------------------------------------------------- decoding strings
def max_output_len(source: str) -> int:
    return 2 * len(source) + 5


def translate(model: Seq2Seq, vocab, sources, beam: int = 1) -> list[str]:
    """Decode each source string (greedy for beam=1, batched; beam search otherwise), in
    evaluation mode (the model's training mode is restored afterwards)."""
    empty = [i for i, s in enumerate(sources) if not s]
    if empty:
        raise InputError(f"sources[{empty[0]}] is empty; give at least one character to translate")
    ids = [vocab.encode(s) for s in sources]
    with evaluation(model):
        if beam == 1:
            src, lengths = pad_batch(ids)
            outs = model.greedy(src, lengths, max(max_output_len(s) for s in sources))
        else:
            outs = [model.beam(i, beam, max_output_len(s)) for i, s in zip(ids, sources)]
    return [vocab.decode(o) for o in outs]


def evaluate(model: Seq2Seq, task, pairs, beam: int = 1, chunk: int = 256) -> dict:
    """Exact-match accuracy on (source, target) ``pairs`` of ``task`` (a ``data.seq2seq.Task``),
    overall and per source length, decoding ``chunk`` sources at a time."""
    right, per_len = 0, {}
    for s in range(0, len(pairs), chunk):
        part = pairs[s : s + chunk]
        preds = translate(model, task.vocab, [p[0] for p in part], beam)
        for (src, tgt), pred in zip(part, preds):
            n = task.length_of(src)
            tot = per_len.setdefault(n, [0, 0])
            tot[1] += 1
            if pred == tgt:
                right += 1
                tot[0] += 1
    return dict(
        accuracy=right / max(len(pairs), 1),
        per_length={int(k): round(v[0] / v[1], 4) for k, v in sorted(per_len.items())},
        per_length_counts={int(k): v for k, v in sorted(per_len.items())},
    )


def accuracy_within(counts: dict, low: int, high: int) -> float:
    """Exact match over the lengths low..high, from ``evaluate``'s per_length_counts."""
    right = sum(v[0] for k, v in counts.items() if low <= int(k) <= high)
    total = sum(v[1] for k, v in counts.items() if low <= int(k) <= high)
    return right / total if total else float("nan")
