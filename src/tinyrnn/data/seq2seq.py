"""Sequence-to-sequence tasks and their character vocabulary.

Every task draws its pairs from a seeded generator with a held-out test set that never
overlaps training: ``words`` (the tutorial's six pairs), ``reverse`` (random letter strings of
length 3-12, reversed) and ``add`` (decimal addition "357+84" -> "441").
"""

from __future__ import annotations

import string
import zlib

import numpy as np

from ..errors import InputError

PAD, SOS, EOS = 0, 1, 2
SPECIALS = ["<pad>", "<s>", "</s>"]

WORD_PAIRS = [("man", "women"), ("black", "white"), ("king", "queen"), ("girl", "boy"), ("up", "down"), ("high", "low")]


class Vocab:
    """Characters with the three special symbols first (pad 0, start 1, end 2)."""

    def __init__(self, chars):
        self.itos = SPECIALS + list(chars)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    @property
    def chars(self) -> str:
        return "".join(self.itos[len(SPECIALS) :])

    def encode(self, text: str, what: str = "input") -> list[int]:
        unknown = sorted({c for c in text if c not in self.stoi or self.stoi[c] < len(SPECIALS)})
        if unknown:
            raise InputError(
                f"{what} {text!r} has characters outside the alphabet {self.chars!r}: "
                + ", ".join(repr(c) for c in unknown)
            )
        return [self.stoi[c] for c in text]

    def decode(self, ids) -> str:
        out = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.itos[i])
        return "".join(out)


class Task:
    """A source of (source, target) string pairs with a held-out test set.

    The split is by source: a source is held out when a hash of it (salted by the seed) falls
    in a fixed tenth of the hash range. Training never sees a held-out source, and every
    corner of the task (the few one-digit sums as much as the many long ones) keeps 90% of
    its problems for training. The test set is ``test_size`` distinct held-out pairs.
    """

    name = ""
    chars = ""
    held_out_fraction = 0.1

    def __init__(self, seed: int = 0, test_size: int = 1000, **options):
        self.options = options
        self.seed = seed
        self.vocab = Vocab(self.chars)
        self.rng = np.random.default_rng(seed)
        self.test = self._make_test(np.random.default_rng(seed + 10_000), test_size)

    def is_held_out(self, source: str) -> bool:
        h = zlib.crc32(f"{self.seed}:{source}".encode())
        return (h % 1000) < 1000 * self.held_out_fraction

    def _make_test(self, rng, n, lengths=None):
        pairs, seen = [], set()
        for _ in range(200 * n):
            if len(pairs) >= n:
                break
            s, t = self.sample(rng, lengths)
            if s not in seen and self.is_held_out(s):
                seen.add(s)
                pairs.append((s, t))
        return pairs

    def sample(self, rng, lengths=None):  # pragma: no cover - abstract
        """One (source, target) pair; ``lengths=(low, high)`` bounds ``length_of(source)``."""
        raise NotImplementedError

    def length_test(self, low: int, high: int, n: int = 1000):
        """Held-out pairs whose ``length_of(source)`` is in low..high, lengths that training may
        never have seen (``--test-lengths``); drawn from their own seeded generator."""
        return self._make_test(np.random.default_rng(self.seed + 20_000), n, (low, high))

    def train_batch(self, n: int):
        """n training pairs, none of whose sources is held out."""
        out = []
        while len(out) < n:
            s, t = self.sample(self.rng)
            if not self.is_held_out(s):
                out.append((s, t))
        return out

    def length_of(self, source: str) -> int:
        """The length that per-length accuracy groups by."""
        return len(source)


class WordsTask(Task):
    """The tutorial's six word pairs; its "test set" is the same six words (there is nothing
    else to hold out: the tutorial asks for exactly these translations)."""

    name = "words"
    chars = string.ascii_lowercase

    def __init__(self, seed: int = 0, test_size: int = 6, **options):
        super().__init__(seed, test_size, **options)

    def _make_test(self, rng, n, lengths=None):
        return list(WORD_PAIRS)

    def train_batch(self, n: int):
        idx = (
            self.rng.permutation(len(WORD_PAIRS))[:n]
            if n <= len(WORD_PAIRS)
            else self.rng.integers(0, len(WORD_PAIRS), n)
        )
        return [WORD_PAIRS[i] for i in idx]


class ReverseTask(Task):
    """Random lowercase strings of length min_len..max_len -> the same string reversed."""

    name = "reverse"
    chars = string.ascii_lowercase

    def sample(self, rng, lengths=None):
        lo, hi = lengths or (self.options.get("min_len", 3), self.options.get("max_len", 12))
        n = int(rng.integers(lo, hi + 1))
        s = "".join([self.chars[i] for i in rng.integers(0, len(self.chars), n)])  # = rng.choice(list(chars), n)
        return s, s[::-1]


class AddTask(Task):
    """ "a+b" -> str(a + b), with a and b of 1..digits digits (uniform number of digits)."""

    name = "add"
    chars = string.digits + "+"

    @staticmethod
    def _operand(rng, d):
        return int(rng.integers(0 if d == 1 else 10 ** (d - 1), 10**d))

    def sample(self, rng, lengths=None):
        if lengths is None:
            digits = self.options.get("digits", 3)
            a = self._operand(rng, int(rng.integers(1, digits + 1)))
            b = self._operand(rng, int(rng.integers(1, digits + 1)))
        else:  # the longer operand has low..high digits
            da = int(rng.integers(lengths[0], lengths[1] + 1))
            a, b = self._operand(rng, da), self._operand(rng, int(rng.integers(1, da + 1)))
            if rng.random() < 0.5:
                a, b = b, a
        return f"{a}+{b}", str(a + b)

    def length_of(self, source: str) -> int:
        return max(len(p) for p in source.split("+"))


TASKS = {"words": WordsTask, "reverse": ReverseTask, "add": AddTask}


def pad_batch(seqs, pad: int = PAD):
    """list of id lists -> (ids (B, T) int64 padded, lengths (B,))."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    ids = np.full((len(seqs), int(lengths.max())), pad, dtype=np.int64)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = s
    return ids, lengths
