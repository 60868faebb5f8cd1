"""min-char-rnn's configuration on tinyrnn's layers, update for update.

Karpathy's min-char-rnn (gist d4dee566867f8291f086) trains a character model with:

- a vanilla tanh RNN, hidden 100, unrolled over 25 characters, one-hot inputs, batch 1;
- weights N(0, 1) * 0.01, ONE hidden bias ``bh`` and an output bias ``by``, both zero;
- the loss summed (not averaged) over the 25 steps; the state carried from one chunk to the
  next and reset to zeros at the start and whenever the data pointer wraps;
- every gradient element clipped to [-5, 5];
- Adagrad with lr 0.1: ``mem += g * g; p -= lr * g / sqrt(mem + 1e-8)``;
- every 100 updates, 200 characters sampled from the softmax, fed back one at a time.

In tinyrnn's names: ``Wxh = rnn.weight_ih_l0``, ``Whh = rnn.weight_hh_l0``,
``bh = rnn.bias_ih_l0``, ``Why = head.weight``, ``by = head.bias``. PyTorch's layout has a
second hidden bias, ``bias_hh_l0``: it stays zero and is left out of the optimizer (and out of
clipping), so there is one hidden bias, as in min-char-rnn; training both would double the
bias step. min-char-rnn's Adagrad is ``tinyrnn.Adagrad(lr=0.1, initial_accumulator_value=1e-8,
eps=0)``: the sum then starts at 1e-8 and the step divides by sqrt(sum), which is
sqrt(mem + 1e-8) (see ``tinyrnn.optim.Adagrad``). tests/test_min_char_rnn.py checks, in
float64, that from the same state this script's ``train_step`` and a column-vector loop in
min-char-rnn's form agree to 1e-10 in loss, clipped gradients, next state and every weight,
for each of 200 updates along min-char-rnn's trajectory.

    python examples/min_char_rnn.py [TEXT_FILE] [--iters N]     (default: README.md, 2000)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import tinyrnn as tr

HIDDEN, SEQ_LENGTH, LEARNING_RATE, CLIP = 100, 25, 1e-1, 5.0


def build(vocab_size: int, rng: np.random.Generator, hidden: int = HIDDEN, dtype=np.float64):
    """(rnn, head, params, opt) initialised as min-char-rnn initialises its arrays;
    ``params`` are the arrays min-char-rnn trains, in its order Wxh, Whh, Why, bh, by."""
    rnn = tr.RNN(vocab_size, hidden, nonlinearity="tanh", dtype=dtype, rng=rng)
    head = tr.Linear(hidden, vocab_size, dtype=dtype, rng=rng)
    rnn.weight_ih_l0.data[...] = rng.standard_normal((hidden, vocab_size)) * 0.01  # Wxh
    rnn.weight_hh_l0.data[...] = rng.standard_normal((hidden, hidden)) * 0.01  # Whh
    head.weight.data[...] = rng.standard_normal((vocab_size, hidden)) * 0.01  # Why
    for b in (rnn.bias_ih_l0, rnn.bias_hh_l0, head.bias):  # bh, (unused), by
        b.data[...] = 0
    params = [rnn.weight_ih_l0, rnn.weight_hh_l0, head.weight, rnn.bias_ih_l0, head.bias]
    opt = tr.Adagrad(params, lr=LEARNING_RATE, initial_accumulator_value=1e-8, eps=0.0)
    return rnn, head, params, opt


def train_step(rnn, head, params, opt, inputs, targets, hprev):
    """One min-char-rnn update on one chunk: (summed loss, last state (H,))."""
    x = np.eye(rnn.input_size, dtype=rnn.dtype)[inputs][:, None, :]  # (T, 1, V) one-hot
    h, h_n, rnn_cache = rnn.forward(x, hprev[None, None, :])  # h (T, 1, H)
    logits, head_cache = head.forward(h)  # (T, 1, V)
    loss, dlogits = tr.cross_entropy(logits, np.asarray(targets)[:, None], reduction="sum")
    rnn.zero_grad()
    head.zero_grad()
    rnn.backward(head.backward(dlogits, head_cache), rnn_cache)
    tr.clip_grad_value_(params, CLIP)
    opt.step()
    return loss, h_n[0, 0]


def sample(rnn, head, h, seed_ix: int, n: int, rng: np.random.Generator) -> list[int]:
    """n indices drawn one at a time from the softmax, each fed back as the next input."""
    x = np.zeros(rnn.input_size, rnn.dtype)
    x[seed_ix] = 1
    out = []
    for _ in range(n):
        _, h_n = rnn(x[None, None, :], h[None, None, :])
        h = h_n[0, 0]
        p = tr.functional.softmax(head(h))
        ix = int(rng.choice(len(p), p=p))
        x = np.zeros_like(x)
        x[ix] = 1
        out.append(ix)
    return out


def main(argv=None) -> float:
    ap = argparse.ArgumentParser(description="min-char-rnn on tinyrnn's layers")
    ap.add_argument("file", nargs="?", default=str(Path(__file__).resolve().parents[1] / "README.md"))
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        data = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        ap.error(f"cannot read {args.file}: {e}")
    chars = sorted(set(data))
    print(f"data has {len(data)} characters, {len(chars)} unique.")
    char_to_ix = {ch: i for i, ch in enumerate(chars)}
    rng = np.random.default_rng(args.seed)
    rnn, head, params, opt = build(len(chars), rng)
    smooth_loss = -np.log(1.0 / len(chars)) * SEQ_LENGTH
    p = 0
    for n in range(args.iters):
        if p + SEQ_LENGTH + 1 >= len(data) or n == 0:
            hprev, p = np.zeros(HIDDEN), 0  # reset the state, go from the start
        inputs = [char_to_ix[ch] for ch in data[p : p + SEQ_LENGTH]]
        targets = [char_to_ix[ch] for ch in data[p + 1 : p + SEQ_LENGTH + 1]]
        if n % 100 == 0:
            text = "".join(chars[i] for i in sample(rnn, head, hprev, inputs[0], 200, rng))
            print(f"----\n {text} \n----")
        loss, hprev = train_step(rnn, head, params, opt, inputs, targets, hprev)
        smooth_loss = smooth_loss * 0.999 + loss * 0.001
        if n % 100 == 0:
            print(f"iter {n}, loss: {smooth_loss:f}")
        p += SEQ_LENGTH
    return smooth_loss


if __name__ == "__main__":
    main()
