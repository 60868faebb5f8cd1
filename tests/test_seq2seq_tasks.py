"""seq2seq on generated tasks: held-out sets, learning, padding-invariance, beam search."""

import numpy as np
import pytest

from tinyrnn.commands import _seq2seq_train as seq2seq
from tinyrnn.data.seq2seq import EOS, PAD, AddTask, ReverseTask, Vocab, WordsTask, pad_batch
from tinyrnn.models.seq2seq import Seq2Seq


def test_tasks_never_train_on_the_test_set():
    for task in (ReverseTask(seed=1, test_size=300, min_len=3, max_len=6), AddTask(seed=1, test_size=300, digits=2)):
        test_sources = {s for s, _ in task.test}
        assert len(test_sources) == len(task.test)
        assert all(task.is_held_out(s) for s in test_sources)
        for _ in range(20):
            assert not test_sources & {s for s, _ in task.train_batch(64)}
            assert not any(task.is_held_out(s) for s, _ in task.train_batch(64))
    # every corner keeps most of its problems for training: about 10% of the 100 one-digit sums are held out
    task = AddTask(seed=0, digits=3)
    held = sum(task.is_held_out(f"{a}+{b}") for a in range(10) for b in range(10))
    assert 3 <= held <= 20


def test_task_pairs_are_right():
    s, t = ReverseTask(seed=0, test_size=5).test[0]
    assert t == s[::-1] and 3 <= len(s) <= 12
    for s, t in AddTask(seed=0, test_size=50, digits=3).test:
        a, b = s.split("+")
        assert int(a) + int(b) == int(t) and max(len(a), len(b)) <= 3
    assert WordsTask().test[0] == ("man", "women")


def test_vocab_refuses_unknown_characters():
    v = Vocab("abc")
    assert v.decode(v.encode("cab") + [EOS, 3]) == "cab"
    with pytest.raises(ValueError, match=r"outside the alphabet 'abc': 'X', 'z'"):
        v.encode("aXz")


def test_seq2seq_learns_reverse_up_to_length_5():
    cfg = seq2seq.Seq2SeqConfig(
        task="reverse",
        cell="gru",
        hidden=64,
        min_len=1,
        max_len=5,
        batch=32,
        steps=1500,
        lr=1e-2,
        test_size=200,
        quiet=True,
        seed=0,
    )
    _, _, metrics = seq2seq.train(cfg)
    assert metrics["accuracy"] >= 0.9, metrics["per_length"]


@pytest.mark.parametrize(
    "cell,bidirectional,attention",
    [
        ("rnn", False, "none"),
        ("lstm", True, "none"),
        ("gru", True, "none"),
        ("rnn", False, "dot"),
        ("lstm", True, "additive"),
        ("gru", True, "general"),
    ],
)
def test_padded_batch_equals_one_at_a_time(cell, bidirectional, attention):
    """Encoding with lengths= and the masked loss make padding invisible: the loss, every
    gradient and the decoded output of a padded batch equal those of each sequence alone."""
    rng = np.random.default_rng(0)
    model = Seq2Seq(8, 16, cell, 1, bidirectional, attention, dtype=np.float64, rng=rng)
    srcs = [[3, 4, 5, 6, 7], [4, 5], [7, 3, 3]]
    tgts = [[5, 4], [3, 3, 6, 7], [4]]
    src, src_len = pad_batch(srcs)
    tgt, _ = pad_batch(tgts)
    model.zero_grad()
    batch_loss = model.loss_and_backward(src, src_len, tgt)
    batch_grads = [p.grad.copy() for p in model.parameters()]
    n_tokens = sum(len(t) + 1 for t in tgts)
    summed = [np.zeros_like(g) for g in batch_grads]
    total = 0.0
    for s, t in zip(srcs, tgts):
        model.zero_grad()
        loss = model.loss_and_backward(np.array([s]), np.array([len(s)]), np.array([t]))
        w = (len(t) + 1) / n_tokens  # the batch loss is a mean over all target tokens
        total += w * loss
        for acc, p in zip(summed, model.parameters()):
            acc += w * p.grad
    assert batch_loss == pytest.approx(total, rel=1e-12)
    for a, b in zip(batch_grads, summed):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    batch_out = model.greedy(src, src_len, 6)
    alone = [model.greedy(np.array([s]), np.array([len(s)]), 6)[0] for s in srcs]
    assert batch_out == alone


# Seeds where greedy decoding of the untrained model ends within 8 symbols and beam search
# finds another output (so the comparison is between two different complete outputs).
@pytest.mark.parametrize("attention, seed", [("none", 3), ("additive", 17)])
def test_beam_search_finds_at_least_greedy_score(attention, seed):
    model = Seq2Seq(6, 12, "gru", attention=attention, rng=np.random.default_rng(seed), dtype=np.float64)
    src = [3, 4, 5]

    def logp(tokens):
        state, memory = model._encode(np.array([src]), np.array([3]))
        prev, total = 1, 0.0
        for tok in tokens + [EOS]:
            lp, state = model._step(np.array([prev]), state, memory)
            total += lp[0, tok]
            prev = tok
        return total / (len(tokens) + 1)

    greedy = model.greedy(np.array([src]), np.array([3]), 8)[0]
    beam = model.beam(src, 4, 8)
    assert PAD not in beam
    assert len(greedy) < 8, "precondition: greedy must finish, so both scores are of complete outputs"
    assert logp(beam) >= logp(greedy) - 1e-12
