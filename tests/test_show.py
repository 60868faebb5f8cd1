"""`tinyrnn charlm show`: features, per-step activations, ranking, the page, the command and
its errors (the page in a real browser: test_show_browser.py); `charlm sample --prime-file`."""

import json
import math
import re
import tracemalloc

import numpy as np
import pytest

import tinyrnn
from show_helpers import CODE, model_probs, save_tiny, tiny_model
from tinyrnn import cli
from tinyrnn.checkpoint import save
from tinyrnn.commands._charlm_run import CharLMConfig, prepare
from tinyrnn.data.text import fingerprint
from tinyrnn.errors import CorpusError
from tinyrnn.functional import sigmoid
from tinyrnn.models.adder import BinaryAdder
from tinyrnn.models.charlm import CharLM
from tinyrnn.viz import FEATURES, analyse, render, text_features
from tinyrnn.viz.features import FeatureScanner
from tinyrnn.viz.page import levels
from tinyrnn.viz.rank import Correlator, rank_cells
from tinyrnn.viz.trace import Tracer


# ---------------------------------------------------------------- features
def _column(text, name):
    return text_features(text)[:, list(FEATURES).index(name)].astype(int).tolist()


def test_quote_feature_follows_python_strings():
    text = "a='x'+f\"y\" don't\n"
    #       a = ' x ' + f " y "   d o n ' t \n
    assert _column(text, "quote") == [0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    tri = 'x="""a\n"b"""+1'
    assert _column(tri, "quote") == [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    esc = "'a\\'b'c"
    assert _column(esc, "quote") == [1, 1, 1, 1, 1, 0, 0]


def test_bracket_comment_indent_and_position_features():
    text = "f(a[1],\n  '(')  # (x\n\tb"
    assert _column(text, "brackets") == [0, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert _column(text, "comment") == [0] * 16 + [1, 1, 1, 1, 0, 0, 0]
    assert _column(text, "indentation") == [0] * 7 + [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 1, 1]
    assert _column(text, "line_position") == [1, 2, 3, 4, 5, 6, 7, 0, *range(1, 13), 0, 1, 2]


def test_features_of_any_text():
    text = "He said \u201cno (really)\u201d; don't 42\nX"
    assert _column(text, "any_quote") == [0] * 8 + [1] * 12 + [0] * 13  # \u201c ... \u201d
    assert _column(text, "any_brackets") == [0] * 12 + [1] * 7 + [0] * 14
    assert _column(text, "word_position")[:12] == [1, 2, 0, 1, 2, 3, 4, 0, 0, 1, 2, 0]
    assert _column(text, "whitespace") == [int(c.isspace()) for c in text]
    assert _column(text, "digit") == [int(c in "42") for c in text]
    assert _column(text, "capital") == [int(c in "HX") for c in text]
    assert _column(text, "line_break") == [int(c == "\n") for c in text]
    assert _column("\u00abun \u2039deux\u203a\u00bb x", "any_quote") == [1] * 10 + [0, 0, 0]  # the outer pair


def test_features_in_stretches_equal_features_at_once():
    scanner = FeatureScanner(CODE)
    parts = [scanner.advance(k) for k in range(7, len(CODE) + 7, 7)]
    np.testing.assert_array_equal(np.concatenate(parts), text_features(CODE))


def _luminance(rgb):
    c = np.array(rgb) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(c @ [0.2126, 0.7152, 0.0722])


def test_every_colour_level_keeps_the_text_readable():
    """WCAG 2 contrast ratio of the text colour on each background level: at least 4.5."""
    from tinyrnn.viz.assets import LEVELS, TEXT_COLOUR, level_rgb

    text = _luminance(TEXT_COLOUR)
    ratios = [(_luminance(level_rgb(k)) + 0.05) / (text + 0.05) for k in range(LEVELS)]
    assert min(ratios) >= 4.5, ratios
    assert level_rgb(LEVELS // 2) == (255, 255, 255)


def test_the_page_lists_only_the_features_that_occur():
    prose = "The cat sat on the mat (twice), and \u201cthen\u201d it ran.\n" * 4
    model, vocab = tiny_model(prose)
    a = analyse(model, vocab, prose, top=3)
    assert "comment" not in a.features and "indentation" not in a.features and "digit" not in a.features
    assert {"any_quote", "any_brackets", "capital", "line_break", "word_position"} <= set(a.features)
    head = re.search(r"<thead>(.*?)</thead>", render(a, "t", "s")).group(1)
    assert re.findall(r'<th title="[^"]*">([a-z_]+)</th>', head) == a.features


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_tracer_in_chunks_equals_the_model(cell):
    """Chunked, layer by layer, the state carried: the last layer's h and the predictions equal
    one forward of the whole model; each layer's final h (and c) equal the model's h_n (c_n)."""
    model, vocab = tiny_model(cell=cell, layers=2, hidden=7, dtype=np.float64)
    ids = np.array([vocab.stoi[c] for c in CODE * 2])
    logits, state = model(ids[:, None])
    tracer = Tracer(model)
    parts = [tracer(ids[s : s + 13]) for s in range(0, len(ids), 13)]
    acts = np.concatenate([a for a, _ in parts])
    logp = np.concatenate([p for _, p in parts])
    H = 7
    np.testing.assert_allclose(
        logp, np.log(np.exp(logits[:, 0]) / np.exp(logits[:, 0]).sum(1, keepdims=True)), atol=1e-12
    )
    h_n, c_n = state if cell == "lstm" else (state, None)
    width = 2 * H if cell == "lstm" else H
    for k in range(2):
        block = acts[:, k * width : (k + 1) * width]
        np.testing.assert_allclose(block[-1, -H:], h_n[k, 0], atol=1e-12)  # h
        if cell == "lstm":
            np.testing.assert_allclose(block[-1, :H], np.tanh(c_n[k, 0]), atol=1e-12)  # tanh(c)
    out, _ = model.rnn(model.embed(ids[:, None]))
    np.testing.assert_allclose(acts[:, -H:], out[:, 0], atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_tracer_gates_in_chunks_equal_states_of_the_whole_text(cell):
    """With ``gates``, each block of every layer, chunked with the state carried, equals
    ``tinyrnn.states`` of the model's layer over the whole text (tanh of c for "c")."""
    model, vocab = tiny_model(cell=cell, layers=2, hidden=6, dtype=np.float64)
    ids = np.array([vocab.stoi[c] for c in CODE])
    tracer = Tracer(model, gates=True)
    acts = np.concatenate([tracer(ids[s : s + 11], predict=False)[0] for s in range(0, len(ids), 11)])
    whole = tinyrnn.states(model.rnn, model.embed(ids[:, None]))
    assert [s for _, s in tracer.groups[: len(tracer.groups) // 2]] == (
        ["c", "h", "i", "f", "g", "o"] if cell == "lstm" else ["h", "r", "z", "n"]
    )
    for g, (layer, name) in enumerate(tracer.groups):
        want = whole[layer - 1][name][:, 0]
        np.testing.assert_allclose(acts[:, g * 6 : (g + 1) * 6], np.tanh(want) if name == "c" else want, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_tracer_with_regularisers_equals_the_model_in_evaluation(cell):
    """A model with recurrent dropout, weight drop and zoneout: the tracer's layers are in
    evaluation mode (no masks, zoneout's expectation), so its h equal the evaluated model's and
    the LSTM's tanh(c) block equals the model's final c."""
    vocab_model, vocab = tiny_model(cell=cell, layers=2, hidden=7, dtype=np.float64)
    model = CharLM(
        len(vocab),
        6,
        7,
        cell,
        2,
        rng=np.random.default_rng(0),
        dtype=np.float64,
        recurrent_dropout=0.3,
        weight_drop=0.2,
        zoneout=0.4,
    )
    model.load_state_dict(vocab_model.state_dict())
    model.eval()
    ids = np.array([vocab.stoi[c] for c in CODE])
    out, state = model.rnn(model.embed(ids[:, None]))
    acts, _ = Tracer(model)(ids)
    np.testing.assert_allclose(acts[:, -7:], out[:, 0], atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(acts[-1, 14:21], np.tanh(state[1][1, 0]), atol=1e-12)


def test_lstm_cell_states_give_the_layers_h():
    """h = o * tanh(c) at every step, with o recomputed independently from the weights."""
    model, vocab = tiny_model(hidden=5, dtype=np.float64)
    ids = np.array([vocab.stoi[c] for c in CODE])
    x = model.embed(ids[:, None])
    out, _ = model.rnn(x)
    acts, _ = Tracer(model)(ids)
    tanh_c = acts[:, :5]
    h_prev = np.concatenate([np.zeros((1, 5)), out[:-1, 0]])
    r = model.rnn
    a_o = (
        x[:, 0] @ r.weight_ih_l0.data[15:].T
        + r.bias_ih_l0.data[15:]
        + h_prev @ r.weight_hh_l0.data[15:].T
        + r.bias_hh_l0.data[15:]
    )
    np.testing.assert_allclose(sigmoid(a_o) * tanh_c, out[:, 0], atol=1e-12)


# ---------------------------------------------------------------- influence
@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("gru", 1), ("rnn", 2)])
def test_influence_equals_finite_differences(cell, layers):
    """Each entry is the norm of d log p(x_j) / d e_t by central differences (float64) over
    the window's embeddings, the state at the window's start taken from the whole text's run."""
    from tinyrnn.functional import log_softmax
    from tinyrnn.viz.influence import influence

    model, vocab = tiny_model(cell=cell, layers=layers, hidden=5, dtype=np.float64)
    ids = np.array([vocab.stoi[c] for c in CODE[:70]])
    before = [p.grad.copy() for p in model.parameters()]
    W = 8
    got = influence(model, ids, window=W, batch=7)
    assert all((p.grad == g).all() for p, g in zip(model.parameters(), before))  # gradients left alone
    emb = model.embed(ids[:, None])[:, 0]

    def logp(j, e):
        s = max(j - W, 0)
        state = model.rnn(emb[:s, None])[1] if s else None
        y, _ = model.rnn(e[s:j, None], state)
        return log_softmax(model.head(y[-1])[0])[ids[j]]

    assert (got[0] == 0).all() and (got[3, 3:] == 0).all()
    for j in (1, 4, 30, 69):
        for d in range(1, min(j, W) + 1):
            g = []
            for k in range(emb.shape[1]):
                up, down = emb.copy(), emb.copy()
                up[j - d, k] += 1e-6
                down[j - d, k] -= 1e-6
                g.append((logp(j, up) - logp(j, down)) / 2e-6)
            assert abs(np.linalg.norm(g) - got[j, d - 1]) < 1e-7, (j, d)


def test_a_page_without_influence():
    model, vocab = tiny_model()
    a = analyse(model, vocab, CODE, top=3, window=0)
    assert a.influence_q is None and '"influence":null' in render(a, "t", "s")
    with pytest.raises(ValueError, match="--influence must be 0 or more"):
        analyse(model, vocab, CODE, window=-1)


def test_page_of_5000_characters_of_an_lstm_256_is_at_most_8_mb(monkeypatch):
    """The stdlib model's size (LSTM 256, one layer, embeddings 64) over 5,000 characters: the
    page with every held state and the influence of 64 characters stays within 8 MB and fetches
    nothing. (base64's length does not depend on the values, so the influence is zeros here.)"""
    import sys

    monkeypatch.setattr(
        sys.modules["tinyrnn.viz.analyse"],
        "influence_rows",
        lambda model, ids, window: iter([(np.arange(len(ids)), np.zeros((len(ids), window)))]),
    )
    model, vocab = tiny_model(hidden=256)
    a = analyse(model, vocab, (CODE * 100)[:5000])
    page = render(a, "t", "s")
    assert a.influence_q.shape == (5000, 64) and a.held_q.shape == (6, 5000, 256)
    assert len(page.encode("utf-8")) <= 8_000_000
    assert not re.search(r"(src|href)\s*=|https?://|@import|url\(", page)


# ---------------------------------------------------------------- ranking
def test_correlator_over_chunks_equals_corrcoef(rng):
    a, f = rng.standard_normal((200, 6)), rng.standard_normal((200, 3)) * 5 + 2
    f[:, 2] = 1.0  # a constant feature
    c = Correlator(6, 3)
    for s in range(0, 200, 37):
        c.update(a[s : s + 37], f[s : s + 37])
    r = c.result()
    full = np.corrcoef(a.T, f[:, :2].T)[:6, 6:]
    np.testing.assert_allclose(r[:, :2], full, atol=1e-10)
    assert np.isnan(r[:, 2]).all()


def test_rank_finds_the_planted_cells(rng):
    feats = text_features(CODE * 3)
    acts = rng.standard_normal((len(feats), 10)) * 0.3
    acts[:, 4] += feats[:, 0]  # tracks quotes
    acts[:, 7] -= feats[:, 1]  # anti-tracks brackets
    c = Correlator(10, len(FEATURES))
    c.update(acts, feats)
    r0 = c.result()
    ranked = rank_cells(r0, np.ones(10, bool), 3)
    assert [col for col, _ in ranked[:2]] == [4, 7] or [col for col, _ in ranked[:2]] == [7, 4]
    assert dict(ranked[:2]) == {4: 0, 7: 1}
    assert [col for col, _ in rank_cells(c.result(), np.arange(10) != 4, 1)] == [7]
    lines = acts.copy()
    lines[:, :4] += 3 * feats[:, 2:3] / feats[:, 2].std()  # four strong line-position cells
    c = Correlator(10, len(FEATURES))
    c.update(lines, feats)
    listed = rank_cells(c.result(), np.ones(10, bool), 3)
    assert {4: 0, 7: 1}.items() <= dict(listed).items()  # quote and bracket cells still listed
    assert [abs(c.result()[col, f]) for col, f in listed] == sorted(
        (abs(c.result()[col, f]) for col, f in listed), reverse=True
    )
    units = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 4])  # column 7 is unit 2's other state
    assert [col for col, _ in rank_cells(r0, np.ones(10, bool), 10, units)][:2] in ([4, 7], [7, 4])
    assert len(rank_cells(r0, np.ones(10, bool), 10, units)) == 5


# ---------------------------------------------------------------- analysis and page
def test_analysis_predictions_and_surprise_match_the_model():
    model, vocab = tiny_model(layers=2)
    text = CODE + "é" + CODE[:40]  # one character outside the vocabulary
    a = analyse(model, vocab, text, top=4, chunk=16)
    p = model_probs(model, vocab, text)
    assert a.steps == len(text) - 1 and a.skipped == ["é"] and a.acts.shape == (4, a.steps)
    np.testing.assert_allclose(a.top_p, np.sort(p, 1)[:, ::-1][:, :5], atol=1e-6)
    np.testing.assert_allclose(p[np.arange(a.steps)[:, None], a.top_ids], a.top_p, atol=1e-6)
    ids = [vocab.stoi[c] for c in text if c in vocab.stoi]
    bits = -np.log2(p[np.arange(a.steps - 1), ids[1:]])
    assert math.isnan(a.surprise[0])
    np.testing.assert_allclose(a.surprise[1:], bits, atol=1e-5)
    assert abs(a.bits_per_char - bits.mean()) < 1e-5


def test_analysis_does_not_depend_on_the_chunk_size():
    model, vocab = tiny_model(cell="gru", layers=2)
    a, b = analyse(model, vocab, CODE * 3, top=6, chunk=5), analyse(model, vocab, CODE * 3, top=6, chunk=1000)
    assert a.cells == b.cells
    np.testing.assert_array_equal(a.acts, b.acts)
    np.testing.assert_allclose(a.top_p, b.top_p, atol=1e-6)


def test_analysis_quantises_the_listed_cells():
    model, vocab = tiny_model(hidden=8, dtype=np.float64)
    a = analyse(model, vocab, CODE, top=16)
    acts, _ = Tracer(tiny_model(hidden=8, dtype=np.float64)[0])(np.array([vocab.stoi[c] for c in CODE]))
    for row, cell in zip(a.acts, a.cells):
        column = (0 if cell["state"] == "c" else 8) + cell["index"]
        np.testing.assert_allclose(row / 127, acts[:, column], atol=0.5 / 127 + 1e-9)
    r = [abs(c["r"]) for c in a.cells]
    assert r == sorted(r, reverse=True)
    assert sorted(c["index"] for c in a.cells) == list(range(8))  # each unit once, by its stronger state


def test_layer_and_state_choose_the_ranked_cells():
    model, vocab = tiny_model(layers=2)
    assert {(c["layer"], c["state"]) for c in analyse(model, vocab, CODE, top=50, layer=2, state="c").cells} == {
        (2, "c")
    }
    with pytest.raises(ValueError, match="--layer must be between 1 and 2"):
        analyse(model, vocab, CODE, layer=3)
    gru, gvocab = tiny_model(cell="gru")
    with pytest.raises(ValueError, match="--state must be h or both for a GRU"):
        analyse(gru, gvocab, CODE, state="c")


def test_page_is_self_contained_and_shows_the_top_cell_without_script():
    model, vocab = tiny_model()
    text = CODE + "\u2192"
    a = analyse(model, vocab, text, top=3)
    page = render(a, "tiny <model>", "CODE & more")
    assert not re.search(r"(src|href)\s*=|https?://|@import|url\(", page)  # nothing fetched
    body = page[page.index('<div id="text"') : page.index('<div id="tip"')]
    spans = re.findall(r'<span class="([^"]+)"[^>]*>(.*?)</span>', body, re.S)
    assert len(spans) == len(text)
    shown = "".join("\n" if s == "\u21b5" else s for _, s in spans)
    assert shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text
    classes = [c for c, _ in spans]
    assert classes[-1] == "oov" and classes.count("oov") == 1
    assert classes[:-1] == [f"q{k}" for k in levels(a.acts[0])]  # the top-ranked cell, static
    assert "tiny &lt;model&gt;" in page and "CODE &amp; more" in page
    assert "1 characters outside the vocabulary skipped" in page


# ---------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny LSTM trained a few steps on a Python-like file, and its checkpoint."""
    folder = tmp_path_factory.mktemp("show")
    corpus = folder / "corpus.py"
    corpus.write_text(CODE * 40)
    ck = str(folder / "lm.npz")
    assert (
        cli.main(
            [
                "charlm",
                "train",
                str(corpus),
                "--hidden",
                "16",
                "--embed",
                "8",
                "--seq-len",
                "16",
                "--batch",
                "4",
                "--steps",
                "20",
                "--eval-every",
                "20",
                "--quiet",
                "--save",
                ck,
            ]
        )
        == 0
    )
    return folder, corpus, ck


def test_show_never_opens_the_files_a_checkpoint_names(trained, tmp_path, capsys, monkeypatch):
    folder, corpus, ck = trained
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: (opened.append(str(f)), real_open(f, *a, **k))[1])
    capsys.readouterr()
    assert cli.main(["charlm", "show", ck, "--html", str(tmp_path / "page.html")]) == 2
    assert "trained on files it names; give the text to show as FILE" in capsys.readouterr().err
    assert str(corpus) not in opened and not (tmp_path / "page.html").exists()


def test_show_file_writes_page_and_json(trained, tmp_path, capsys):
    folder, corpus, ck = trained
    out = tmp_path / "page.html"
    capsys.readouterr()
    assert (
        cli.main(["charlm", "show", ck, str(corpus), "--html", str(out), "--top", "4", "--chars", "300", "--json"]) == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["chars"] == 300 and summary["source"] == f"{corpus} (its first 300 characters)"
    held = (CODE * 40)[:300]
    assert len(summary["cells"]) == 4 and set(summary["features"]) == set(FEATURES)
    assert [c["rank"] for c in summary["cells"]] == [1, 2, 3, 4]
    assert set(summary["cells"][0]) == {"rank", "layer", "state", "index", "feature", "r", "correlations"}
    page = out.read_text(encoding="utf-8")
    assert page.count('<span class="q') == len(held) and summary["html_bytes"] == len(page.encode())
    assert "Page written to" in lines[-2]
    assert list(folder.glob(".tmp-*")) == [] and list(tmp_path.glob(".tmp-*")) == []


def test_show_file_marks_unknown_characters(trained, tmp_path, capsys):
    _, _, ck = trained
    f = tmp_path / "text.py"
    f.write_text("x = 'caf\u00e9' \u2192 [1]\n" * 3, encoding="utf-8")
    out = tmp_path / "p.html"
    assert cli.main(["charlm", "show", ck, str(f), "--html", str(out), "--top", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Skipped 6 characters outside the model's vocabulary" in printed and "'\u00e9'" in printed
    assert out.read_text(encoding="utf-8").count('class="oov"') == 6


def test_show_without_html_prints_the_ranking(trained, capsys):
    _, corpus, ck = trained
    assert cli.main(["charlm", "show", ck, str(corpus), "--top", "3", "--chars", "200"]) == 0
    printed = capsys.readouterr().out
    assert len(re.findall(r"^\s+\d\. layer 1 ", printed, re.M)) == 3 and "Page written" not in printed


def _fails(argv, capsys, *needles):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for n in needles:
        assert n in err, err
    return err


def test_show_bad_input_one_line(trained, tmp_path, capsys):
    folder, corpus, ck = trained
    adder = str(tmp_path / "adder.npz")
    save(adder, BinaryAdder(8))
    _fails(["charlm", "show", adder, str(corpus)], capsys, "not a charlm checkpoint")
    _fails(["charlm", "show", str(tmp_path / "none.npz"), str(corpus)], capsys, "none.npz")
    _fails(["charlm", "show", ck, str(tmp_path / "none.txt")], capsys, "none.txt", "does not exist")
    alien = tmp_path / "alien.txt"
    alien.write_text("\u00e9\u00e9\u2192", encoding="utf-8")
    _fails(["charlm", "show", ck, str(alien)], capsys, "no character of the text is in the model's vocabulary")
    _fails(
        ["charlm", "show", ck, str(corpus), "--html", str(tmp_path / "no" / "p.html")],
        capsys,
        "--html",
        "does not exist",
    )
    _fails(["charlm", "show", ck, str(corpus), "--html", str(tmp_path)], capsys, "is a directory")
    _fails(["charlm", "show", ck, str(corpus), "--layer", "2"], capsys, "--layer must be between 1 and 1")
    _fails(["charlm", "show", ck, str(corpus), "--top", "0"], capsys, "--top")
    assert list(tmp_path.glob("*.html")) == [] and list(tmp_path.glob(".tmp-*")) == []


@pytest.fixture
def default_corpus(monkeypatch):
    """The default corpus (no FILE: the standard library's files), stood in by a small text."""
    box = {"text": CODE * 40}

    def stand_in(files):
        assert list(files) == []
        if box["text"] is None:
            raise CorpusError("no .py files found")
        return box["text"], "the standard-library stand-in"

    monkeypatch.setattr("tinyrnn.commands._charlm_run.load_corpus", stand_in)
    monkeypatch.setattr("tinyrnn.commands.show.load_corpus", stand_in)
    return box


def _train_default(ck):
    assert (
        cli.main(
            [
                "charlm",
                "train",
                "--hidden",
                "8",
                "--embed",
                "4",
                "--seq-len",
                "8",
                "--batch",
                "2",
                "--steps",
                "2",
                "--quiet",
                "--save",
                str(ck),
            ]
        )
        == 0
    )


def test_show_needs_a_file_when_the_corpus_is_not_the_same(tmp_path, capsys, default_corpus):
    model, vocab = tiny_model()
    bare = save_tiny(tmp_path / "bare.npz", model, vocab)
    _fails(["charlm", "show", bare], capsys, "does not record its training corpus; give a FILE")
    ck = tmp_path / "lm.npz"
    _train_default(ck)
    default_corpus["text"] = CODE.replace("x", "y") + CODE * 39  # same characters, other text
    _fails(["charlm", "show", str(ck)], capsys, "not the one the checkpoint was trained on", "give a FILE")
    default_corpus["text"] = None
    _fails(["charlm", "show", str(ck)], capsys, "cannot be read here", "give a FILE")


def test_held_out_slice_is_the_training_split(tmp_path, default_corpus):
    from tinyrnn.checkpoint import read_header
    from tinyrnn.commands.show import held_out_text

    ck = tmp_path / "lm.npz"
    _train_default(ck)
    vocab, train_ids, valid_ids, _ = prepare(CharLMConfig(files=[]))
    assert fingerprint(default_corpus["text"]) == read_header(ck)["meta"]["corpus"]
    text, desc = held_out_text(read_header(ck), 120)
    assert text == vocab.decode(valid_ids[:120]) and desc.startswith("the first 120 held-out characters of")


def test_memory_does_not_hold_every_cell_of_every_step():
    """Working memory grows with the text only by what the page keeps (one byte a character
    for each of the 6 * 64 held values, 64 + 4 bytes of influence, and about 100 bytes more),
    not by every value of every step (6 * 64 float32 a character)."""
    model, vocab = tiny_model(hidden=64)

    def peak(n):
        text = (CODE * (n // len(CODE) + 1))[:n]
        tracemalloc.start()
        analyse(model, vocab, text, top=1, chunk=128)
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    extra = peak(12000) - peak(3000)
    assert extra < 9000 * (6 * 64 + 68 + 200), extra


# ---------------------------------------------------------------- sample --prime-file
def test_sample_prime_file_equals_prime(trained, tmp_path, capsys):
    _, _, ck = trained
    primer = "def f(x):\n    return [x,\n" * 200  # multi-line, fed in more than one piece
    f = tmp_path / "primer.py"
    f.write_text(primer)
    assert cli.main(["charlm", "sample", ck, "--prime-file", str(f), "--length", "40", "--seed", "5"]) == 0
    from_file = capsys.readouterr().out
    assert cli.main(["charlm", "sample", ck, "--prime", primer, "--length", "40", "--seed", "5"]) == 0
    assert capsys.readouterr().out == from_file and from_file.startswith(primer)
    _fails(["charlm", "sample", ck, "--prime-file", str(tmp_path / "none.txt")], capsys, "--prime-file", "none.txt")
    _fails(["charlm", "sample", ck, "--prime-file", str(f), "--prime", "x"], capsys, "not allowed with")
    bad = tmp_path / "bad.txt"
    bad.write_text("\u00e9t\u00e9", encoding="utf-8")
    _fails(["charlm", "sample", ck, "--prime-file", str(bad)], capsys, "--prime-file has characters outside")


@pytest.mark.parametrize("text", ["a", "\u00e9\u00e9a\u2192"])
def test_a_text_of_one_known_character_gives_a_page(trained, tmp_path, capsys, text):
    _, _, ck = trained
    f = tmp_path / "one.txt"
    f.write_text(text)
    out = tmp_path / "p.html"
    capsys.readouterr()
    assert cli.main(["charlm", "show", ck, str(f), "--html", str(out), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["cells"] == [] and summary["steps"] == 1 and summary["bits_per_char"] is None
    assert any(line.startswith("No cell ranked") for line in lines)
    page = out.read_text(encoding="utf-8")
    assert "no cell is ranked" in page and "no prediction scored" in page and page.count('<span class="q') == 1
