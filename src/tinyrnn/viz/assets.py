"""The style sheet and the script that ``page.py`` inlines into every page (no network access).

The script reads the JSON in ``<script id="data">``: base64 arrays of the listed cells'
activations (int8), the top-5 next-character ids and probabilities (uint16 thousandths) and
each character's surprise (uint16 hundredths of a bit, 65535 = none), and the held states of
select and match (``held``: one block of levels per state, steps x hidden, one byte or 4 bits a
value). ``window.tinyrnnSelect(start, end, threshold)`` runs select and match from a script.
"""

LEVELS = 21  # colour steps from -1 (blue) through 0 (white) to +1 (red)
TEXT_COLOUR = (0x22, 0x22, 0x22)
NEGATIVE, POSITIVE = (90, 140, 255), (255, 110, 100)  # light enough that TEXT_COLOUR stays readable


def level_rgb(k: int) -> tuple:
    """The background of level k of LEVELS: white at the middle, towards NEGATIVE below and
    POSITIVE above (sRGB, linearly)."""
    a = 2 * k / (LEVELS - 1) - 1
    end = NEGATIVE if a < 0 else POSITIVE
    return tuple(round(255 + (e - 255) * abs(a)) for e in end)


def level_colour(k: int) -> str:
    return "rgb({},{},{})".format(*level_rgb(k))


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.2em auto;max-width:70em;padding:0 1em;color:#222}
#text span{color:#222}
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
  background:linear-gradient(90deg,rgb(90,140,255),#fff,rgb(255,110,100))}
#tip{position:fixed;display:none;background:#fff;border:1px solid #999;box-shadow:0 2px 8px rgba(0,0,0,.2);
  padding:.4em .6em;font-size:.88em;pointer-events:none;z-index:10;min-width:14em}
#tip table{border-collapse:collapse;margin-top:.3em}
#tip td{padding:0 .4em 0 0}
#tip td.pc{font-family:ui-monospace,monospace;white-space:pre}
#tip td.pp{text-align:right;font-variant-numeric:tabular-nums}
#tip .bar{height:.6em;background:#6a8fd0}
noscript p{background:#fff3c4;padding:.3em .6em}
details.match{margin:.4em 0 .8em}
details.match .how{color:#444;font-size:.9em;max-width:60em}
details.match input{width:5em;font:inherit}
#matches{max-height:14em;overflow:auto;font:12px/1.5 ui-monospace,monospace;margin:.3em 0}
#matches li{cursor:pointer;white-space:pre}
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
  var I = D.influence, infQ = I ? bytes(I.q) : null, infMax = I ? new Float32Array(bytes(I.max).buffer) : null;
  var shaded = [];
  function influenceOf(j) {     // [influence of the character d = 1 .. window steps before j]
    var out = [];
    for (var d = 1; I && d <= I.window && j - d >= 0; d++) out.push(infQ[j * I.window + d - 1] / 255 * infMax[j]);
    return out;
  }
  function shade(j) {           // underline each earlier character by its influence on character j
    shaded.forEach(function (s) { s.style.boxShadow = ""; });
    shaded = [];
    if (!I) return "";
    var best = 0, at = 0;
    for (var d = 1; d <= I.window && j - d >= 0; d++) {
      var q = infQ[j * I.window + d - 1], s = spans[j - d];
      if (q > best) { best = q; at = d; }
      s.style.boxShadow = "inset 0 -3px 0 rgba(224,123,0," + (q / 255).toFixed(3) + ")";
      shaded.push(s);
    }
    return j ? " \u00b7 most influenced by the character " + at + " back" : "";
  }
  window.tinyrnnInfluence = influenceOf;
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
    D.features.forEach(function (name) {
      var r = c.correlations[name];
      parts.push(name + " " + (r === null ? "\u2013" : (r >= 0 ? "+" : "") + r.toFixed(2)));
    });
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
      (acts[cell][j] / 127 * D.scales[cell]).toFixed(2) : "") + shade(j) + "</div><div>next character:</div><table>";
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

  // ---- select and match (LSTMVis): the held states, decoded one state at a time
  var H = D.held, held = {}, chars = text.querySelectorAll("span"), stepOfChar = [], charOfStep = [];
  Array.prototype.forEach.call(chars, function (s, i) {
    stepOfChar.push(s.classList.contains("oov") ? -1 : charOfStep.length);
    if (!s.classList.contains("oov")) charOfStep.push(i);
  });
  function values(g) {          // Float32Array (steps * hidden) of state g
    if (held[g]) return held[g];
    var b = bytes(H.data[g]), n = spans.length * H.hidden, out = new Float32Array(n), Q = H.levels;
    for (var j = 0; j < n; j++) {
      var q = Q === 7 ? (j & 1 ? b[j >> 1] >> 4 : b[j >> 1] & 15) : b[j];
      out[j] = (q / Q - 1) * H.scales[g];
    }
    return (held[g] = out);
  }
  function stepsIn(start, end) {  // [first, last) steps of the kept characters in [start, end)
    var a = -1, b = -1;
    for (var i = Math.max(0, start); i < Math.min(end, stepOfChar.length); i++) {
      if (stepOfChar[i] >= 0) { if (a < 0) a = stepOfChar[i]; b = stepOfChar[i] + 1; }
    }
    return [a, b];
  }
  function selectCells(g, start, end, threshold) {
    var v = values(g), n = H.hidden, st = stepsIn(start, end), a = st[0], b = st[1], cells = [], matches = [];
    if (a < 0) return {layer: H.groups[g][0], state: H.groups[g][1], cells: cells, matches: matches, on: null};
    for (var c = 0; c < n; c++) {
      var ok = a === 0 || v[(a - 1) * n + c] < threshold;
      for (var t = a; ok && t < b; t++) ok = v[t * n + c] >= threshold;
      if (ok) cells.push(c);
    }
    var on = new Uint16Array(spans.length), mask = new Uint8Array(n), L = b - a;
    cells.forEach(function (c) { mask[c] = 1; });
    for (var t = 0; t < spans.length; t++) {
      for (var k = 0; k < cells.length; k++) if (v[t * n + cells[k]] >= threshold) on[t]++;
    }
    if (cells.length) {
      var runs = [];
      for (var t = 0; t < spans.length; t++) {
        if (on[t] !== cells.length) continue;
        var e = t, other = 0;
        while (e < spans.length && on[e] === cells.length) {
          for (var c = 0; c < n; c++) if (!mask[c] && v[e * n + c] >= threshold) other++;
          e++;
        }
        if (!(t <= a && b <= e)) {   // not the run that holds the selection
          var len = e - t, sim = Math.min(len, L) / Math.max(len, L);
          runs.push({start: charOfStep[t], end: charOfStep[e - 1] + 1, score: (cells.length - other / len) * sim});
        }
        t = e - 1;
      }
      runs.sort(function (x, y) { return y.score - x.score || x.start - y.start; });
      matches = runs.slice(0, 50);
    }
    return {layer: H.groups[g][0], state: H.groups[g][1], cells: cells, matches: matches, on: on};
  }
  var groupSel = document.getElementById("group"), thr = document.getElementById("threshold");
  var from = document.getElementById("from"), to = document.getElementById("to");
  var list = document.getElementById("matches"), said = document.getElementById("selected");
  function run(start, end, threshold) {
    var r = selectCells(+groupSel.value, start, end, threshold);
    from.value = start; to.value = end; thr.value = threshold;
    said.textContent = r.cells.length + " cell(s) selected" + (r.cells.length ? ": #" + r.cells.join(", #") : "") +
      " \u00b7 " + r.matches.length + " match(es)";
    list.innerHTML = "";
    r.matches.forEach(function (m) {
      var li = document.createElement("li"), s = "";
      for (var i = m.start; i < m.end && i < m.start + 40; i++) s += shown(TEXT[i]);
      li.textContent = "[" + m.start + ", " + m.end + ") " + s + (m.end - m.start > 40 ? "\u2026" : "") +
        " \u00b7 score " + m.score.toFixed(2);
      li.tabIndex = 0;
      li.addEventListener("click", function () { chars[m.start].scrollIntoView({block: "center"}); });
      list.appendChild(li);
    });
    if (r.on && r.cells.length) {
      for (var j = 0; j < spans.length; j++) {
        var cls = "q" + Math.round(HALF + HALF * r.on[j] / r.cells.length);
        spans[j].className = j === cur ? cls + " cur" : cls;
      }
    }
    return {layer: r.layer, state: r.state, cells: r.cells,
            matches: r.matches.map(function (m) { return {start: m.start, end: m.end, score: m.score}; })};
  }
  var TEXT = Array.prototype.map.call(chars, function (s) { return s.textContent === "\u21b5" ? "\n" : s.textContent; });
  window.tinyrnnSelect = function (start, end, threshold) {
    return run(start, end, threshold === undefined ? 0.3 : threshold);
  };
  document.getElementById("go").addEventListener("click", function () { run(+from.value, +to.value, +thr.value); });
  var down = -1;
  text.addEventListener("mousedown", function (e) {
    down = Array.prototype.indexOf.call(chars, e.target);
  });
  text.addEventListener("mouseup", function (e) {
    var up = Array.prototype.indexOf.call(chars, e.target);
    if (down >= 0 && up >= 0 && up !== down) run(Math.min(down, up), Math.max(down, up) + 1, +thr.value);
    down = -1;
  });
  if (D.cells.length) {           // a text of one step ranks no cell
    select.disabled = false;
    paint(0);
  }
})();
"""
