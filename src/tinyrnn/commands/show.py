"""``tinyrnn charlm show``: a character model's cells and predictions as one HTML page."""

from __future__ import annotations

from ..demos.common import check_output
from ._args import add_config_flags, given, print_json


def run(args):
    from ..demos import show
    from ..viz.page import cell_label

    check_output("--html", args.html, inputs={"CKPT": args.checkpoint, "FILE": args.file})
    cfg = show.ShowConfig(**given(args, show.ShowConfig))
    analysis, summary = show.show(args.checkpoint, args.file, cfg, args.html)
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
    from ..demos.show import ShowConfig

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
