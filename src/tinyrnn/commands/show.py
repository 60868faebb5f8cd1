"""``tinyrnn charlm show``: a character model's cells and predictions as one HTML page.

``tinyrnn charlm show``: a character model's cells and predictions over a text, as one
self-contained HTML page (tinyrnn.viz) and a ranked list of cells.

The text is FILE, or else the start of the checkpoint's held-out slice when the model was
trained on the standard-library corpus (the default): the slice is re-derived only when the
corpus found here has the fingerprint the checkpoint records. A checkpoint trained on named
files needs FILE: a checkpoint never makes tinyrnn open a path it names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..data.text import CorpusError, load_corpus, read_text
from ..errors import InputError
from ..paths import atomic_write, check_output
from ..viz import FEATURES, analyse, render
from ._args import add_config_flags, flag, given, nonneg, positive, print_json
from ._charlm_run import fingerprint, load_model


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


def run(args):
    from ..viz.page import cell_label

    check_output("--html", args.html, inputs={"CKPT": args.checkpoint, "FILE": args.file})
    cfg = ShowConfig(**given(args, ShowConfig))
    analysis, summary = show(args.checkpoint, args.file, cfg, args.html)
    print(
        f"Text: {summary['source']}: {summary['chars']} characters"
        + (f", {analysis.bits_per_char:.3f} bits/char" if summary["bits_per_char"] is not None else "")
    )
    if summary["skipped"]:
        print(
            f"Skipped {summary['skipped']} characters outside the model's vocabulary (marked on the page): "
            + ", ".join(repr(c) for c in summary["skipped_chars"][:20])
        )
    print(
        "Cells ranked by their correlation with a feature of the text (first the best cell for each feature):"
        if summary["cells"]
        else "No cell ranked: the text has too few characters in the vocabulary to correlate"
    )
    for c in summary["cells"]:
        print(f"{c['rank']:>3}. {cell_label(c):<24} {c['feature']:<14} r = {c['r']:+.3f}")
    if args.html:
        print(f"Page written to {args.html} ({summary['html_bytes'] / 1e6:.2f} MB)")
    if args.json:
        print_json(summary)
    return 0


def add_parser(ss):

    w = ss.add_parser(
        "show",
        help="see inside a trained model: its cells and predictions as one HTML page",
        description="Run a charlm checkpoint over a text (FILE, or the start of the checkpoint's "
        "held-out slice when its corpus is found here) and write one self-contained "
        "HTML page: the text coloured by one cell's activation (blue negative, red "
        "positive), the cells that track quotes, brackets, position in the line, "
        "indentation and comments ranked first, the top-5 predictions and the surprise "
        "of each character on hover, the loss per character above the text.",
    )
    w.add_argument("checkpoint", metavar="CKPT", help="a checkpoint written by 'tinyrnn charlm train --save'")
    w.add_argument(
        "file", nargs="?", metavar="FILE", help="UTF-8 text to run the model over (default: the held-out slice)"
    )
    w.add_argument("--html", metavar="OUT.html", help="write the page here")
    add_config_flags(w, ShowConfig)
    w.add_argument(
        "--json",
        action="store_true",
        help="print the ranked cells and their features as one JSON object on the last line",
    )
    w.set_defaults(run=run)
