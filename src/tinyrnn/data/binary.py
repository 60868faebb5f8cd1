"""Binary addition data: operands as bit arrays, least significant bit first."""

from __future__ import annotations

import numpy as np


def to_bits(values, bits: int) -> np.ndarray:
    """Non-negative ints (N,) -> (bits, N) uint8, least significant bit first (row 0)."""
    values = np.asarray(values, dtype=np.uint64)
    shifts = np.arange(bits, dtype=np.uint64)[:, None]
    return ((values[None, :] >> shifts) & np.uint64(1)).astype(np.uint8)


def from_bits(bits_lsb_first) -> list[int]:
    """(bits, N) 0/1 -> Python ints (any width)."""
    b = np.asarray(bits_lsb_first, dtype=np.int64)
    out = []
    for col in b.T:
        out.append(int("".join(str(int(v)) for v in col[::-1]) or "0", 2))
    return out


def add_bits(a_bits: np.ndarray, b_bits: np.ndarray) -> np.ndarray:
    """Ripple-carry addition of (bits, N) operands; returns (bits, N) (the sum must fit)."""
    out = np.empty_like(a_bits)
    carry = np.zeros(a_bits.shape[1], np.uint8)
    for k in range(a_bits.shape[0]):
        s = a_bits[k] + b_bits[k] + carry
        out[k] = s & 1
        carry = s >> 1
    return out


def random_operands(rng: np.random.Generator, bits: int, n: int):
    """n operand pairs of ``bits - 1`` random bits each (so a + b fits in ``bits``), as bit
    arrays (bits, n) with the top bit zero. Works for any width."""
    a = rng.integers(0, 2, size=(bits, n), dtype=np.uint8)
    b = rng.integers(0, 2, size=(bits, n), dtype=np.uint8)
    a[-1] = 0
    b[-1] = 0
    return a, b


def all_operands(bits: int):
    """Every pair a, b < 2^(bits-1), as bit arrays (bits, 4^(bits-1))."""
    half = 1 << (bits - 1)
    a, b = np.meshgrid(np.arange(half), np.arange(half), indexing="ij")
    return to_bits(a.ravel(), bits), to_bits(b.ravel(), bits)


def edge_operands(bits: int):
    """Carry-heavy and boundary pairs: all ones + all ones, all ones + 1, 0 + 0,
    alternating patterns, one + all ones."""
    top = bits - 1
    ones = np.ones(bits, np.uint8)
    ones[top] = 0
    zero = np.zeros(bits, np.uint8)
    one = zero.copy()
    one[0] = 1
    alt1 = (np.arange(bits) % 2).astype(np.uint8)
    alt2 = 1 - alt1
    alt1[top] = alt2[top] = 0
    pairs = [(ones, ones), (ones, one), (zero, zero), (alt1, alt2), (one, ones), (alt1, alt1)]
    a = np.stack([p[0] for p in pairs], axis=1)
    b = np.stack([p[1] for p in pairs], axis=1)
    return a, b


def encode(a_bits: np.ndarray, b_bits: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Network input (bits, N, 2): at step k the k-th bit of a and of b."""
    return np.stack([a_bits, b_bits], axis=-1).astype(dtype)
