"""Tiny character models and texts for the tests of ``tinyrnn charlm show``."""

import numpy as np

from tinyrnn.checkpoint import save
from tinyrnn.data.text import CharVocab
from tinyrnn.functional import softmax
from tinyrnn.models.charlm import CharLM

# Python-like text: strings (one-line, triple, prefixed), brackets, comments, indentation,
# tabs and the characters HTML must escape.
CODE = '''def f(x, y=[1, 2]):
    """Doc & <tags>."""
    s = f"a{x}b" + 'it\\'s'  # a comment (with brackets
    if x < 3 and y > {0: (1,)}:
\treturn [s, "q"]
    return None
'''


def tiny_model(text: str = CODE, cell: str = "lstm", layers: int = 1, hidden: int = 12, seed: int = 0,
               sharpen: float = 3.0, dtype=np.float32):
    """An untrained CharLM over ``text``'s characters whose weights are scaled by ``sharpen``, so
    its predictions are far from uniform (distinct top-5 probabilities) and its cells vary."""
    vocab = CharVocab(text)
    model = CharLM(len(vocab), 6, hidden, cell, layers, rng=np.random.default_rng(seed), dtype=dtype)
    for p in model.parameters():
        p.data *= sharpen
    return model, vocab


def save_tiny(path, model, vocab, meta=None) -> str:
    save(str(path), model, meta={"kind": "charlm", "chars": vocab.chars, **(meta or {})})
    return str(path)


def model_probs(model, vocab, text: str) -> np.ndarray:
    """(steps, V) float64: the model's next-character probabilities after each character of
    ``text`` that is in the vocabulary, from one forward over the whole text."""
    ids = np.array([vocab.stoi[c] for c in text if c in vocab.stoi])
    model.eval()
    logits, _ = model(ids[:, None])
    return softmax(logits[:, 0].astype(np.float64))
