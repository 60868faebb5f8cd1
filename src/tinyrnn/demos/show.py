"""``tinyrnn charlm show``: a character model's cells and predictions over a text, as one
self-contained HTML page (tinyrnn.viz) and a ranked list of cells.

The text is FILE, or else the start of the checkpoint's held-out slice: the checkpoint's
meta names its training files (none: the standard-library corpus) and the fingerprint of its
training ids, and the slice is re-derived only when the corpus found here has the same
fingerprint.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from ..commands._args import flag, positive
from ..data.text import CorpusError, load_corpus, read_text
from ..errors import InputError
from ..viz import FEATURES, analyse, render
from .charlm import fingerprint, load_model


@dataclass
class ShowConfig:
    chars: int = field(default=5000, metadata=flag(
        "the first N characters of FILE or of the held-out slice (default %(default)s)", type=positive, metavar="N"))
    top: int = field(default=10, metadata=flag("ranked cells listed (default %(default)s)", type=positive, metavar="K"))
    layer: int = field(default=0, metadata=flag(           # 0 = every layer
        "rank the cells of this layer only, from 1 (default: every layer)", type=positive))
    state: str = field(default="both", metadata=flag("LSTM: rank tanh(c), h or both (default %(default)s)",
                                                     choices=["c", "h", "both"]))
    chunk: int = 256            # characters per forward (memory does not grow with the text)


def held_out_text(header: dict, chars: int) -> tuple[str, str]:
    """(the first ``chars`` characters of the checkpoint's held-out slice, a description)."""
    meta = header.get("meta", {})
    cfg = meta.get("train_config")
    if not cfg or "corpus" not in meta:
        raise InputError("the checkpoint does not record its training corpus; give a FILE to show")
    try:
        text, desc = load_corpus(cfg["files"])
    except CorpusError as e:
        raise InputError(f"the checkpoint's corpus cannot be read here ({e}); give a FILE to show") from None
    if fingerprint(text) != meta["corpus"]:            # the same fingerprint the training run recorded
        raise InputError(f"the corpus found here ({desc}) is not the one the checkpoint was trained on "
                         "(its fingerprint differs); give a FILE to show")
    cut = int(len(text) * (1 - cfg["valid_fraction"]))  # data.text.split's cut, on characters
    held = text[cut:cut + chars]
    return held, f"the first {len(held)} held-out characters of {desc}"


def _temp_beside(path: str) -> tuple[int, str]:
    """A new file beside ``path`` (permissions from the umask, like any file the user writes)."""
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        tmp = os.path.join(folder, f".tmp-{secrets.token_hex(6)}.html")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def check_writable(path: str) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(f"--html {path} is a folder; give a file name such as {os.path.join(path, 'show.html')}")
    if not os.path.isdir(folder):
        raise InputError(f"--html {path}: the folder {folder} does not exist")
    try:
        fd, tmp = _temp_beside(path)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise InputError(f"--html {path}: cannot write in {folder} ({e.strerror})") from None


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def show(checkpoint: str, file: str | None, cfg: ShowConfig, html_path: str | None = None):
    """Analyse the model over the text and write the page; returns (analysis, summary dict).
    User mistakes raise InputError (CorpusError, CheckpointError) before the model runs."""
    if html_path:
        check_writable(html_path)
    model, vocab, header = load_model(checkpoint)
    if file:
        whole = read_text(file)
        text = whole[:cfg.chars]
        source = file + (f" (its first {len(text)} characters)" if len(whole) > len(text) else "")
    else:
        text, source = held_out_text(header, cfg.chars)
    a = analyse(model, vocab, text, cfg.top, cfg.layer, cfg.state, cfg.chunk)
    summary = dict(source=source, chars=len(text), steps=a.steps, skipped=int(len(text) - a.steps),
                   skipped_chars=a.skipped, bits_per_char=round(a.bits_per_char, 4) if a.steps > 1 else None, features=FEATURES,
                   cells=a.cells, html=html_path)
    if html_path:
        page = render(a, f"tinyrnn charlm show {os.path.basename(checkpoint)}", source)
        write_atomic(html_path, page)
        summary["html_bytes"] = len(page.encode("utf-8"))
    return a, summary
