"""One self-contained HTML page of an ``Analysis``: inline CSS and JavaScript, no network access.

Without JavaScript the page shows the text coloured by the top-ranked cell (each character a
``<span>`` with one of ``assets.LEVELS`` colour classes), the ranked-cells table and the loss
strip (an inline SVG). The script adds the cell control, the colours of the other listed
cells, and the predictions shown on hover or focus.
"""

from __future__ import annotations

import base64
import html
import json

import numpy as np

from .analyse import STATE_NAMES, Analysis
from .assets import CSS, JS, LEVELS
from .features import FEATURES

NO_SURPRISE = 65535
STRIP_HEIGHT = 100  # SVG units of the loss strip


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def cell_label(cell: dict) -> str:
    return f"layer {cell['layer']} {STATE_NAMES[cell['state']]} #{cell['index']}"


def levels(row: np.ndarray) -> np.ndarray:
    """Colour level (0 .. LEVELS-1) of quantised activations, as the script computes it."""
    return np.floor((row / 127 + 1) * ((LEVELS - 1) / 2) + 0.5).astype(int)


def _spans(a: Analysis) -> str:
    """Every character of the text as a span, coloured by the top-ranked cell."""
    neutral = (LEVELS - 1) // 2
    lv = iter(levels(a.acts[0]) if len(a.acts) else [neutral] * int(a.kept.sum()))  # no ranked cell: neutral
    out = []
    for ch, kept in zip(a.text, a.kept):
        shown = "\u21b5" if ch == "\n" else html.escape(ch, quote=False)
        tail = "\n" if ch == "\n" else ""
        if kept:
            out.append(f'<span class="q{next(lv)}">{shown}</span>{tail}')
        else:
            out.append(f'<span class="oov" title="outside the vocabulary: skipped">{shown}</span>{tail}')
    return "".join(out)


def _strip(a: Analysis) -> str:
    """The per-character loss (surprise in bits) as an SVG polyline over the characters."""
    s = np.nan_to_num(a.surprise, nan=0.0)
    top = max(float(s.max(initial=0.0)), 1.0)
    y = STRIP_HEIGHT - s / top * (STRIP_HEIGHT - 2) - 1
    points = " ".join(f"{j + 0.5:g},{v:.0f}" for j, v in enumerate(y))
    return (
        f'<svg id="strip" class="strip" viewBox="0 0 {max(len(s), 1)} {STRIP_HEIGHT}" preserveAspectRatio="none" '
        f'role="img" aria-label="loss per character, 0 to {top:.1f} bits"><polyline points="{points}"/>'
        f'<line id="mark" x1="-1" x2="-1" y1="0" y2="{STRIP_HEIGHT}"/></svg>'
        f'<div class="axis"><span>loss per character (surprise, bits; 0 at the bottom, {top:.1f} at the top)'
        f"</span><span>click to jump to a character</span></div>"
    )


def _table(a: Analysis) -> str:
    """The ranked cells and their correlations with the features that occur in the text."""
    head = "".join(f'<th title="{html.escape(FEATURES[n])}">{n}</th>' for n in a.features)
    rows = []
    for c in a.cells:
        rs = "".join(
            "<td>–</td>" if c["correlations"][n] is None else f"<td>{c['correlations'][n]:+.2f}</td>"
            for n in a.features
        )
        rows.append(f"<tr><td>{c['rank']}</td><td>{cell_label(c)}</td><td>{c['feature']}</td>{rs}</tr>")
    return (
        f'<table class="rank"><thead><tr><th>#</th><th>cell</th><th>tracks</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _held(a: Analysis) -> dict:
    """The states held for select and match: each (steps, H) block of levels, 4-bit levels
    packed two a byte (the even value in the low nibble) when Q is 7."""
    blocks = []
    for q in a.held_q:
        flat = q.reshape(-1)
        if a.held_levels == 7:
            flat = np.concatenate([flat, np.zeros(len(flat) % 2, np.uint8)])
            flat = flat[0::2] | (flat[1::2] << 4)
        blocks.append(_b64(flat.astype(np.uint8)))
    return {
        "groups": [[k, s, STATE_NAMES[s]] for k, s in a.held],
        "hidden": a.model["hidden"],
        "levels": a.held_levels,
        "scales": [float(s) for s in a.held_scales],
        "data": blocks,
    }


def _influence(a: Analysis) -> dict | None:
    """The influence on each prediction: levels (steps, window) uint8 and each row's largest
    value (float32), or None when the page has none."""
    if a.influence_q is None or a.influence_max is None:
        return None
    return {"window": a.influence_q.shape[1], "q": _b64(a.influence_q), "max": _b64(a.influence_max.astype("<f4"))}


def _data(a: Analysis) -> str:
    probs = np.floor(a.top_p * 1000 + 0.5).astype("<u2")  # thousandths
    bits = np.where(
        np.isnan(a.surprise), NO_SURPRISE, np.minimum(np.floor(np.nan_to_num(a.surprise) * 100 + 0.5), NO_SURPRISE - 1)
    ).astype("<u2")
    id_bytes = 1 if len(a.vocab) <= 256 else 2
    data = dict(
        levels=LEVELS,
        top=a.top_ids.shape[1],
        vocab=a.vocab,
        features=a.features,
        cells=a.cells,
        scales=[float(s) for s in a.scales],
        acts=[_b64(row.astype(np.int8)) for row in a.acts],
        id_bytes=id_bytes,
        top_ids=_b64(a.top_ids.astype("u1" if id_bytes == 1 else "<u2")),
        top_p=_b64(probs),
        surprise=_b64(bits),
        held=_held(a),
        influence=_influence(a),
    )
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def _select_controls(a: Analysis) -> str:
    groups = "".join(f'<option value="{g}">layer {k} {STATE_NAMES[s]}</option>' for g, (k, s) in enumerate(a.held))
    step = "1/127" if a.held_levels == 127 else "1/7 (4 bits a value)"
    return f"""<details class="match" open><summary>Select and match</summary>
<p class="how">Drag over a stretch of the text (or type its character offsets, the end not included) to select
the cells of the chosen state that are at or above the threshold at every character of the stretch and below it
just before the stretch starts. Matches are the other stretches where every selected cell is on; they are ranked
by (number of selected cells &minus; average number of the state's other cells on over the match) &times; length
similarity (shorter length / longer length, against the selection), best first, 50 at most. The text is
coloured by how many of the selected cells are on (white none, red all). Values are held to {step} of each
state's scale.</p>
<div class="controls"><label>State <select id="group">{groups}</select></label>
<label>Threshold <input id="threshold" type="number" value="0.3" step="0.05" min="-1" max="1"></label>
<label>From <input id="from" type="number" min="0" value="0"></label>
<label>to <input id="to" type="number" min="0" value="0"></label>
<button id="go" type="button">Select</button> <span id="selected"></span></div>
<ol id="matches"></ol></details>"""


def render(a: Analysis, title: str, source: str) -> str:
    """The page: ``title`` names the model, ``source`` the text shown."""
    options = "".join(
        f'<option value="{k}">{c["rank"]}. {cell_label(c)} · {c["feature"]} r={c["r"]:+.2f}</option>'
        for k, c in enumerate(a.cells)
    )
    skipped = f" · {int((~a.kept).sum())} characters outside the vocabulary skipped (hatched)" if len(a.skipped) else ""
    m = a.model
    bits = f"{a.bits_per_char:.3f} bits per character" if np.isfinite(a.bits_per_char) else "no prediction scored"
    colour = (
        f"the text is coloured by the top-ranked cell ({cell_label(a.cells[0])})"
        if a.cells
        else "no cell is ranked (the text is too short to correlate)"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">{m["cell"].upper()}, {m["layers"]} layer(s) of {m["hidden"]} · {html.escape(source)} ·
{len(a.text)} characters · {bits}{skipped}</p>
<noscript><p>JavaScript is off: {colour}.</p></noscript>
<div class="controls"><label>Cell <select id="cell" disabled>{options}</select></label>
<span class="legend">−1 <i></i> +1</span><span id="corr"></span></div>
{_select_controls(a)}
{_table(a)}
{_strip(a)}
<div id="text" tabindex="0" aria-label="the text; arrow keys move between characters">{_spans(a)}</div>
<div id="tip" role="status"></div>
<script id="data" type="application/json">{_data(a)}</script>
<script>{JS}</script>
</body></html>
"""
