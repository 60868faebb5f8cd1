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


def tiny_model(
    text: str = CODE,
    cell: str = "lstm",
    layers: int = 1,
    hidden: int = 12,
    seed: int = 0,
    sharpen: float = 3.0,
    dtype=np.float32,
):
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


def bracket_text(n: int = 60, seed: int = 0) -> str:
    """Words and nested round brackets, e.g. ``ab (cd (e) f) gh``: ``n`` bracketed groups."""
    rng = np.random.default_rng(seed)
    words = lambda: " ".join(
        "".join(rng.choice(list("abcdefgh"), rng.integers(1, 5))) for _ in range(rng.integers(1, 4))
    )
    out = []
    for _ in range(n):
        inner = words() if rng.random() < 0.5 else f"{words()} ({words()}) {words()}"
        out.append(f"{words()} ({inner}) ")
    return "".join(out)


def bracket_model(text: str, hidden: int = 6):
    """A CharLM whose LSTM cell 0 counts the bracket depth with hand-set weights: the embedding
    of "(" is (1, 0), of ")" (0, 1), of every other character 0; i, f, o are held open (bias 20)
    and g = tanh(3 (e_0 - e_1)), so c_0 ~ depth and h_0 = tanh(c_0) is about 0.76 or more
    inside brackets and about 0 outside. The other cells get no input (g = 0): they stay 0."""
    vocab = CharVocab(text)
    model = CharLM(len(vocab), 2, hidden, "lstm", 1, rng=np.random.default_rng(0), dtype=np.float64)
    sd = {name: np.zeros_like(value) for name, value in model.state_dict().items()}
    emb = next(name for name in sd if "embed" in name)
    sd[emb][vocab.stoi["("], 0] = 1.0
    sd[emb][vocab.stoi[")"], 1] = 1.0
    H = hidden
    sd["rnn.bias_ih_l0"][: 2 * H] = 20.0  # i, f open
    sd["rnn.bias_ih_l0"][3 * H :] = 20.0  # o open
    sd["rnn.weight_ih_l0"][2 * H, :] = [3.0, -3.0]  # g of cell 0
    model.load_state_dict(sd)
    return model, vocab
