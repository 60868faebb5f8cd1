"""The style sheet and the script that ``page.py`` inlines into every page (no network access).

The script reads the JSON in ``<script id="data">``: base64 arrays of the listed cells'
activations (int8), the top-5 next-character ids and probabilities (uint16 thousandths) and
each character's surprise (uint16 hundredths of a bit, 65535 = none).
"""

LEVELS = 21         # colour steps from -1 (blue) through 0 (white) to +1 (red)


def level_colour(k: int) -> str:
    """The background of level k of LEVELS: white at the middle, blue below, red above."""
    a = 2 * k / (LEVELS - 1) - 1
    fade = round(255 * (1 - abs(a)))
    return f"rgb({fade},{fade},255)" if a < 0 else f"rgb(255,{fade},{fade})"


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.2em auto;max-width:70em;padding:0 1em;color:#222}
h1{font-size:1.25em;margin:.2em 0}
.meta{color:#555;margin:.2em 0 .8em}
.controls{display:flex;flex-wrap:wrap;gap:.6em 1.4em;align-items:center;margin:.6em 0}
select{font:inherit;max-width:40em}
#corr{color:#444}
table.rank{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}
table.rank td,table.rank th{padding:.15em .6em;text-align:right;border-bottom:1px solid #eee}
table.rank td:nth-child(2),table.rank th:nth-child(2),table.rank td:nth-child(3),table.rank th:nth-child(3){text-align:left}
table.rank tr.sel{background:#fff3c4}
table.rank tbody tr{cursor:pointer}
.strip{width:100%;height:56px;display:block;background:#fafafa;border:1px solid #ddd;cursor:crosshair}
.strip polyline{fill:none;stroke:#555;stroke-width:1;vector-effect:non-scaling-stroke}
.strip line{stroke:#e07b00;stroke-width:2;vector-effect:non-scaling-stroke}
.axis{display:flex;justify-content:space-between;color:#777;font-size:.8em;margin-bottom:.6em}
#text{font:13px/1.5 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;white-space:pre-wrap;
  word-break:break-all;border:1px solid #ddd;padding:.6em;outline:none}
#text:focus{border-color:#e07b00}
#text span.cur{outline:2px solid #e07b00}
#text span.oov{background:repeating-linear-gradient(45deg,#ccc 0 3px,#fff 3px 6px);color:#900}
.legend{display:inline-flex;align-items:center;gap:.4em;font-size:.85em;color:#555}
.legend i{display:inline-block;width:9em;height:.9em;border:1px solid #ccc;
  background:linear-gradient(90deg,rgb(0,0,255),#fff,rgb(255,0,0))}
#tip{position:fixed;display:none;background:#fff;border:1px solid #999;box-shadow:0 2px 8px rgba(0,0,0,.2);
  padding:.4em .6em;font-size:.88em;pointer-events:none;z-index:10;min-width:14em}
#tip table{border-collapse:collapse;margin-top:.3em}
#tip td{padding:0 .4em 0 0}
#tip td.pc{font-family:ui-monospace,monospace;white-space:pre}
#tip td.pp{text-align:right;font-variant-numeric:tabular-nums}
#tip .bar{height:.6em;background:#6a8fd0}
noscript p{background:#fff3c4;padding:.3em .6em}
""" + "".join(f"#text span.q{k}{{background:{level_colour(k)}}}\n" for k in range(LEVELS))

JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var LEVELS = D.levels, HALF = (LEVELS - 1) / 2;
  function bytes(b64) {
    var s = atob(b64), out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function u16(b64) {
    var b = bytes(b64), out = new Uint16Array(b.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = b[2 * i] | (b[2 * i + 1] << 8);
    return out;
  }
  var acts = D.acts.map(function (a) { return new Int8Array(bytes(a).buffer); });
  var ids = D.id_bytes === 1 ? bytes(D.top_ids) : u16(D.top_ids);
  var probs = u16(D.top_p), surprise = u16(D.surprise);
  var text = document.getElementById("text"), tip = document.getElementById("tip");
  var select = document.getElementById("cell"), corr = document.getElementById("corr");
  var mark = document.getElementById("mark"), strip = document.getElementById("strip");
  var spans = [], stepOf = new Map();
  Array.prototype.forEach.call(text.querySelectorAll("span"), function (s) {
    if (!s.classList.contains("oov")) { stepOf.set(s, spans.length); spans.push(s); }
  });
  var cell = 0, cur = -1;
  function shown(c) {
    return c === "\n" ? "\u21b5" : c === " " ? "\u2423" : c === "\t" ? "\u21e5" : c;
  }
  function paint(k) {
    cell = k;
    var a = acts[k];
    for (var j = 0; j < spans.length; j++) {
      var s = spans[j], cls = "q" + Math.round((a[j] / 127 + 1) * HALF);
      s.className = j === cur ? cls + " cur" : cls;
    }
    var c = D.cells[k], parts = [];
    for (var name in c.correlations) {
      var r = c.correlations[name];
      parts.push(name + " " + (r === null ? "\u2013" : (r >= 0 ? "+" : "") + r.toFixed(2)));
    }
    corr.textContent = "correlations: " + parts.join(" \u00b7 ");
    Array.prototype.forEach.call(document.querySelectorAll("table.rank tbody tr"), function (tr, i) {
      tr.classList.toggle("sel", i === k);
    });
    if (cur >= 0) show(cur);
  }
  function show(j) {
    if (cur >= 0 && spans[cur]) spans[cur].classList.remove("cur");
    cur = j;
    var s = spans[j];
    s.classList.add("cur");
    var sup = surprise[j] === 65535 ? "\u2013" : (surprise[j] / 100).toFixed(2) + " bits";
    var html = "<div><b>" + esc(shown(s.textContent)) + "</b> \u00b7 character " + (j + 1) +
      " \u00b7 surprise <span class=\"surprise\">" + sup + "</span>" + (D.cells.length ? " \u00b7 cell " +
      (acts[cell][j] / 127 * D.scales[cell]).toFixed(2) : "") + "</div><div>next character:</div><table>";
    for (var k = 0; k < D.top; k++) {
      var p = probs[j * D.top + k] / 1000;
      html += "<tr><td class=\"pc\">" + esc(shown(D.vocab[ids[j * D.top + k]])) + "</td><td class=\"pp\">" +
        p.toFixed(3) + "</td><td><div class=\"bar\" style=\"width:" + (10 * p).toFixed(2) + "em\"></div></td></tr>";
    }
    tip.innerHTML = html + "</table>";
    var r = s.getBoundingClientRect();
    tip.style.display = "block";
    var left = Math.min(r.left, window.innerWidth - tip.offsetWidth - 8);
    var top = r.bottom + 6 + tip.offsetHeight > window.innerHeight ? r.top - tip.offsetHeight - 6 : r.bottom + 6;
    tip.style.left = Math.max(left, 0) + "px";
    tip.style.top = Math.max(top, 0) + "px";
    mark.setAttribute("x1", j + 0.5); mark.setAttribute("x2", j + 0.5);
  }
  function esc(c) {
    return c.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  text.addEventListener("mouseover", function (e) {
    if (stepOf.has(e.target)) show(stepOf.get(e.target));
  });
  text.addEventListener("mouseleave", function () { if (document.activeElement !== text) tip.style.display = "none"; });
  text.addEventListener("focus", function () { show(cur >= 0 ? cur : 0); });
  text.addEventListener("blur", function () { tip.style.display = "none"; });
  text.addEventListener("keydown", function (e) {
    var step = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: 40, ArrowUp: -40}[e.key];
    if (step === undefined) return;
    e.preventDefault();
    var j = Math.max(0, Math.min(spans.length - 1, (cur < 0 ? 0 : cur) + step));
    spans[j].scrollIntoView({block: "nearest"});
    show(j);
  });
  strip.addEventListener("click", function (e) {
    var r = strip.getBoundingClientRect();
    var j = Math.max(0, Math.min(spans.length - 1, Math.floor((e.clientX - r.left) / r.width * spans.length)));
    spans[j].scrollIntoView({block: "center"});
    show(j);
  });
  select.addEventListener("change", function () { paint(+select.value); });
  Array.prototype.forEach.call(document.querySelectorAll("table.rank tbody tr"), function (tr, i) {
    tr.addEventListener("click", function () { select.value = String(i); paint(i); });
  });
  if (D.cells.length) {           // a text of one step ranks no cell
    select.disabled = false;
    paint(0);
  }
})();
"""
