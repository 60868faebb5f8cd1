"""``tinyrnn charlm show``: a character model's cells and predictions over a text, as one
self-contained HTML page (tinyrnn.viz) and a ranked list of cells.

The text is FILE, or else the start of the checkpoint's held-out slice when the model was
trained on the standard-library corpus (the default): the slice is re-derived only when the
corpus found here has the fingerprint the checkpoint records. A checkpoint trained on named
files needs FILE: a checkpoint never makes tinyrnn open a path it names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..commands._args import flag, nonneg, positive
from ..data.text import CorpusError, load_corpus, read_text
from ..errors import InputError
from ..paths import atomic_write, check_output
from ..viz import FEATURES, analyse, render
from .charlm import fingerprint, load_model


@dataclass
class ShowConfig:
    chars: int = field(
        default=5000,
        metadata=flag(
            "the first N characters of FILE or of the held-out slice (default %(default)s)", type=positive, metavar="N"
        ),
    )
    top: int = field(default=10, metadata=flag("ranked cells listed (default %(default)s)", type=positive, metavar="K"))
    layer: int = field(
        default=0,
        metadata=flag(  # 0 = every layer
            "rank the cells of this layer only, from 1 (default: every layer); the page holds its gates "
            "(default: the last layer's)",
            type=positive,
        ),
    )
    state: str = field(
        default="both", metadata=flag("LSTM: rank tanh(c), h or both (default %(default)s)", choices=["c", "h", "both"])
    )
    influence: int = field(
        default=64,
        metadata=flag(
            "on hover, shade the N characters before by their influence on the prediction (0: none; default %(default)s)",
            type=nonneg,
            metavar="N",
        ),
    )
    chunk: int = 256  # characters per forward (memory does not grow with the text)


def held_out_text(header: dict, chars: int) -> tuple[str, str]:
    """(the first ``chars`` characters of the checkpoint's held-out slice, a description)."""
    meta = header.get("meta", {})
    cfg = meta.get("train_config")
    if not isinstance(cfg, dict) or "corpus" not in meta or not isinstance(cfg.get("valid_fraction"), float):
        raise InputError("the checkpoint does not record its training corpus; give a FILE to show")
    if cfg.get("files") != []:  # a checkpoint never makes tinyrnn open a path it names
        raise InputError(
            "the checkpoint was trained on files it names; give the text to show as FILE "
            "(a checkpoint never makes tinyrnn open a path)"
        )
    try:
        text, desc = load_corpus([])
    except CorpusError as e:
        raise InputError(f"the checkpoint's corpus cannot be read here ({e}); give a FILE to show") from None
    if fingerprint(text) != meta["corpus"]:  # the same fingerprint the training run recorded
        raise InputError(
            f"the corpus found here ({desc}) is not the one the checkpoint was trained on "
            "(its fingerprint differs); give a FILE to show"
        )
    cut = int(len(text) * (1 - cfg["valid_fraction"]))  # data.text.split's cut, on characters
    held = text[cut : cut + chars]
    return held, f"the first {len(held)} held-out characters of {desc}"


def check_writable(path: str, inputs=()) -> None:
    """Refuse, before any work, a page path that cannot or must not be written (the output
    rule, ``tinyrnn.paths.check_output``; ``inputs``: the checkpoint and the text)."""
    check_output("--html", path, inputs)


def write_atomic(path: str, text: str) -> None:
    """Write the page ``text`` atomically (``tinyrnn.paths.atomic_write``)."""
    data = text.encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data), "page")


def show(checkpoint: str, file: str | None, cfg: ShowConfig, html_path: str | None = None):
    """Analyse the model over the text and write the page; returns (analysis, summary dict).
    User mistakes raise InputError (CorpusError, CheckpointError) before the model runs."""
    if html_path:
        check_writable(html_path, {"CKPT": checkpoint, "FILE": file})
    model, vocab, header = load_model(checkpoint)
    if file:
        whole = read_text(file)
        text = whole[: cfg.chars]
        source = file + (f" (its first {len(text)} characters)" if len(whole) > len(text) else "")
    else:
        text, source = held_out_text(header, cfg.chars)
    a = analyse(model, vocab, text, cfg.top, cfg.layer, cfg.state, cfg.chunk, cfg.influence)
    summary = dict(
        source=source,
        chars=len(text),
        steps=a.steps,
        skipped=int(len(text) - a.steps),
        skipped_chars=a.skipped,
        bits_per_char=round(a.bits_per_char, 4) if a.steps > 1 else None,
        features=FEATURES,
        cells=a.cells,
        html=html_path,
    )
    if html_path:
        page = render(a, f"tinyrnn charlm show {os.path.basename(checkpoint)}", source)
        write_atomic(html_path, page)
        summary["html_bytes"] = len(page.encode("utf-8"))
    return a, summary
