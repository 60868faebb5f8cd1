"""The page of `tinyrnn charlm show` in a real browser: Debian's chromium, headless, driven by
Selenium through chromedriver (never a browser download). Skipped only where no browser is
found and CI is unset; in CI a missing browser is an error."""

import io
import os
import shutil

import numpy as np
import pytest

import tinyrnn
from show_helpers import (
    CODE,
    bracket_model,
    bracket_text,
    model_probs,
    save_tiny,
    tiny_model,
)
from tinyrnn import cli
from tinyrnn.viz import analyse
from tinyrnn.viz.page import levels

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1100,900",
]
TEXT = CODE + "caf\u00e9 \u2192 " + CODE  # two characters outside the vocabulary


def _browser():
    """(chromium, chromedriver) paths, or a reason why there are none."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None, "selenium is not installed (pip install -e '.[test]')"
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        return None, "no chromium and chromedriver on PATH (apt-get install chromium chromium-driver)"
    return (browser, driver), ""


def _driver(javascript=True):
    found, why = _browser()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {why}")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in FLAGS:
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(found[1]), options=options)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """(path of the page, model, vocab, analysis) of a tiny 2-layer LSTM over TEXT."""
    folder = tmp_path_factory.mktemp("browser")
    model, vocab = tiny_model(layers=2)
    ck = save_tiny(folder / "tiny.npz", model, vocab)
    (folder / "text.py").write_text(TEXT, encoding="utf-8")
    out = folder / "page.html"
    assert cli.main(["charlm", "show", ck, str(folder / "text.py"), "--html", str(out), "--top", "6"]) == 0
    return out, model, vocab, analyse(model, vocab, TEXT, top=6)


@pytest.fixture(scope="module")
def browser(page):
    driver = _driver()
    driver.get(page[0].as_uri())
    yield driver
    driver.quit()


def _classes(driver):
    return driver.execute_script("return Array.from(document.querySelectorAll('#text span'), s => s.className)")


def test_every_character_rendered(browser, page):
    spans = browser.execute_script(
        "return Array.from(document.querySelectorAll('#text span'), s => [s.textContent, s.getClientRects().length])"
    )
    assert len(spans) == len(TEXT)
    assert "".join("\n" if t == "\u21b5" else t for t, _ in spans) == TEXT
    assert all(n > 0 for _, n in spans)  # each one laid out on the page
    colours = browser.execute_script(
        "return Array.from(document.querySelectorAll('#text span:not(.oov)'), s => getComputedStyle(s).color)"
    )
    assert set(colours) == {"rgb(34, 34, 34)"}  # TEXT_COLOUR, as the contrast test assumes
    assert browser.get_log("browser") == []  # no script error


def test_switching_cells_changes_the_colours(browser, page):
    from selenium.webdriver.support.ui import Select

    a = page[3]
    kept = [c != "oov" for c in _classes(browser)]
    before = browser.execute_script(
        "return Array.from(document.querySelectorAll('#text span'), s => getComputedStyle(s).backgroundColor)"
    )
    Select(browser.find_element("id", "cell")).select_by_index(3)
    classes = [c.replace(" cur", "") for c, k in zip(_classes(browser), kept) if k]
    assert classes == [f"q{k}" for k in levels(a.acts[3])]  # the colours of cell 4
    after = browser.execute_script(
        "return Array.from(document.querySelectorAll('#text span'), s => getComputedStyle(s).backgroundColor)"
    )
    assert sum(x != y for x, y in zip(before, after)) > len(TEXT) // 10
    assert (
        browser.execute_script(
            "return Array.from(document.querySelectorAll('table.rank tbody tr')).findIndex(r => r.classList.contains('sel'))"
        )
        == 3
    )
    Select(browser.find_element("id", "cell")).select_by_index(0)


def _tip(browser):
    chars = [e.text for e in browser.find_elements("css selector", "#tip td.pc")]
    probs = [float(e.text) for e in browser.find_elements("css selector", "#tip td.pp")]
    return chars, probs, browser.find_element("css selector", "#tip .surprise").text


def test_hover_shows_the_models_five_predictions(browser, page):
    from selenium.webdriver.common.action_chains import ActionChains

    _, model, vocab, _ = page
    p = model_probs(model, vocab, TEXT)  # the model's own forward
    spans = browser.find_elements("css selector", "#text span:not(.oov)")
    shown = {"\n": "\u21b5", " ": "\u2423", "\t": "\u21e5"}
    for j in (0, 1, 57, len(spans) - 1):
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", spans[j])
        ActionChains(browser).move_to_element(spans[j]).perform()
        chars, probs, surprise = _tip(browser)
        assert len(chars) == 5 and browser.find_element("id", "tip").is_displayed()
        order = np.argsort(-p[j], kind="stable")[:5]
        np.testing.assert_allclose(probs, p[j][order], atol=0.0005 + 1e-6)  # to 3 decimals
        for c, q in zip(chars, probs):
            assert abs(p[j][vocab.stoi[next((k for k, v in shown.items() if v == c), c)]] - q) <= 0.0005 + 1e-6
        ids = [vocab.stoi[c] for c in TEXT if c in vocab.stoi]
        if j == 0:
            assert surprise == "\u2013"
        else:
            assert abs(float(surprise.split()[0]) + np.log2(p[j - 1][ids[j]])) <= 0.005 + 1e-6


def test_keyboard_focus_shows_predictions(browser, page):
    from selenium.webdriver.common.keys import Keys

    text = browser.find_element("id", "text")
    browser.execute_script("arguments[0].focus()", text)
    text.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    assert browser.find_element("id", "tip").is_displayed() and len(_tip(browser)[1]) == 5
    assert browser.execute_script("return document.querySelector('#text span.cur') !== null")


def test_screenshot_is_not_blank(browser):
    from matplotlib.image import imread

    browser.execute_script("window.scrollTo(0, 0)")
    png = imread(io.BytesIO(browser.get_screenshot_as_png()), format="png")[..., :3]  # (H, W, 3) in [0, 1]
    assert png.shape[0] > 300 and png.std() > 0.05
    red = (png[..., 0] > 0.9) & (png[..., 1] < 0.8) & (png[..., 2] < 0.8)  # the upper half of the palette
    blue = (png[..., 2] > 0.9) & (png[..., 0] < 0.75) & (png[..., 1] < 0.8)
    assert red.sum() > 200 and blue.sum() > 200  # the cell's colours are drawn


def test_without_javascript_the_top_cell_is_shown(page):
    driver = _driver(javascript=False)
    try:
        driver.get(page[0].as_uri())
        colours = driver.execute_script(
            "return Array.from(document.querySelectorAll('#text span'), s => getComputedStyle(s).backgroundColor)"
        )
        assert len(colours) == len(TEXT) and len(set(colours)) > 5
        assert driver.find_element("css selector", "noscript p").is_displayed()
        assert driver.find_element("css selector", "table.rank").is_displayed()
    finally:
        driver.quit()


def test_a_page_with_no_ranked_cell_runs_without_error(tmp_path):
    """A text of one character in the vocabulary ranks no cell: the page still loads, with no
    script error, and hovering the character shows its predictions."""
    from selenium.webdriver.common.action_chains import ActionChains

    model, vocab = tiny_model()
    ck = save_tiny(tmp_path / "tiny.npz", model, vocab)
    (tmp_path / "one.txt").write_text(vocab.chars[-1])
    out = tmp_path / "one.html"
    assert cli.main(["charlm", "show", ck, str(tmp_path / "one.txt"), "--html", str(out)]) == 0
    driver = _driver()
    try:
        driver.get(out.as_uri())
        span = driver.find_element("css selector", "#text span")
        ActionChains(driver).move_to_element(span).perform()
        assert len(driver.find_elements("css selector", "#tip td.pc")) == 5
        assert driver.get_log("browser") == []
    finally:
        driver.quit()


# ---------------------------------------------------------------- select and match
def _held_values(model, vocab, text, layer, name):
    """(steps, H) float64: the state ``name`` of ``layer`` (from 1) after each kept character,
    from ``tinyrnn.states`` over the whole text (tanh of c for "c")."""
    ids = np.array([vocab.stoi[c] for c in text if c in vocab.stoi])
    v = tinyrnn.states(model.rnn, model.embed(ids[:, None]))[layer - 1][name][:, 0].astype(np.float64)
    return np.tanh(v) if name == "c" else v


def test_selected_cells_are_on_over_the_stretch_and_off_before(browser, page):
    """For every state the page holds, a stretch where some cell switches on: tinyrnnSelect's
    cells are at or above the threshold over the stretch and below it just before (checked
    against tinyrnn.states, within the page's quantisation step), and no other cell is."""
    _, model, vocab, a = page
    kept = [c in vocab.stoi for c in TEXT]
    char_of_step = [i for i, k in enumerate(kept) if k]
    assert [tuple(g) for g in a.held] == [
        (1, "c"),
        (1, "h"),
        (2, "c"),
        (2, "h"),
        (2, "i"),
        (2, "f"),
        (2, "g"),
        (2, "o"),
    ]
    checked = 0
    for g, (layer, name) in enumerate(a.held):
        v = _held_values(model, vocab, TEXT, layer, name)
        tol = float(a.held_scales[g]) / a.held_levels + 1e-6
        for threshold in (0.3, 0.6):
            on = v >= threshold
            t = next((t for t in range(20, len(v) - 3) if (on[t : t + 3].all(0) & ~on[t - 1]).any()), None)
            if t is None:
                continue
            start, end = char_of_step[t], char_of_step[t + 2] + 1
            browser.execute_script(f"document.getElementById('group').value = '{g}'")
            r = browser.execute_script(f"return window.tinyrnnSelect({start}, {end}, {threshold})")
            assert (r["layer"], r["state"]) == (layer, name)
            cells = set(r["cells"])
            for c in range(v.shape[1]):
                clearly_on = (v[t : t + 3, c] >= threshold + tol).all() and v[t - 1, c] < threshold - tol
                clearly_off = (v[t : t + 3, c] < threshold - tol).any() or v[t - 1, c] >= threshold + tol
                if c in cells:
                    assert (v[t : t + 3, c] >= threshold - tol).all() and v[t - 1, c] < threshold + tol
                    assert not clearly_off
                else:
                    assert not clearly_on
            assert cells
            checked += 1
    assert checked >= 6
    assert browser.get_log("browser") == []


@pytest.mark.parametrize("bits", [8, 4])
def test_a_stretch_inside_brackets_matches_other_bracketed_stretches(tmp_path, monkeypatch, bits):
    """A planted feature (cell 0 of a hand-set LSTM counts the bracket depth): selecting three
    characters inside a bracket selects cell 0, and at least 90 % of the matches lie inside
    brackets; clicking a match scrolls the text there. With the states held in one byte and
    in 4 bits a value (a held-values budget of 0 forces 4 bits)."""
    import sys

    if bits == 4:
        monkeypatch.setattr(sys.modules["tinyrnn.viz.analyse"], "HELD_BYTES", 0)
    text = bracket_text()
    model, vocab = bracket_model(text)
    ck = save_tiny(tmp_path / "brackets.npz", model, vocab)
    (tmp_path / "brackets.txt").write_text(text)
    out = tmp_path / "brackets.html"
    assert cli.main(["charlm", "show", ck, str(tmp_path / "brackets.txt"), "--html", str(out)]) == 0
    assert analyse(model, vocab, text).held_levels == (127 if bits == 8 else 7)
    depth = np.cumsum([(c == "(") - (c == ")") for c in text])  # after reading each character
    start = text.index("(", 30)
    assert depth[start : start + 3].min() >= 1 and depth[start - 1] == 0
    driver = _driver()
    try:
        driver.get(out.as_uri())
        for name in ("h", "c"):
            g = next(k for k, (_, s) in enumerate(analyse(model, vocab, text).held) if s == name)
            driver.execute_script(f"document.getElementById('group').value = '{g}'")
            r = driver.execute_script(f"return window.tinyrnnSelect({start}, {start + 3}, 0.3)")
            assert r["cells"] == [0]
            inside = [depth[m["start"] : m["end"]].min() >= 1 for m in r["matches"]]
            assert len(inside) >= 20 and sum(inside) >= 0.9 * len(inside)
            assert all(m["start"] != start for m in r["matches"])
            scores = [m["score"] for m in r["matches"]]
            assert scores == sorted(scores, reverse=True)
        from selenium.webdriver.common.action_chains import ActionChains

        chars = driver.find_elements("css selector", "#text span")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", chars[start])
        ActionChains(driver).click_and_hold(chars[start]).move_to_element(chars[start + 2]).release().perform()
        assert driver.find_element("id", "selected").text.startswith("1 cell(s) selected: #0")
        assert (
            driver.find_element("id", "from").get_attribute("value"),
            driver.find_element("id", "to").get_attribute("value"),
        ) == (str(start), str(start + 3))
        items = driver.find_elements("css selector", "#matches li")
        assert len(items) == len(r["matches"])
        last = r["matches"][-1]
        driver.execute_script("arguments[0].scrollIntoView()", items[-1])
        items[-1].click()
        top = driver.execute_script(
            f"var r = document.querySelectorAll('#text span')[{last['start']}].getBoundingClientRect();"
            "return [r.top, window.innerHeight]"
        )
        assert 0 <= top[0] <= top[1]  # the match is in view
        assert driver.get_log("browser") == []
    finally:
        driver.quit()


def test_influence_on_hover(browser, page):
    """The page's influence equals tinyrnn's (viz.influence on the same model) to its uint8
    step, and hovering a character underlines the characters before it by their influence."""
    from selenium.webdriver.common.action_chains import ActionChains

    from tinyrnn.viz.influence import influence

    _, model, vocab, _ = page
    want = influence(model, np.array([vocab.stoi[c] for c in TEXT if c in vocab.stoi]))
    for j in (1, 30, 100, len(want) - 1):
        got = np.array(browser.execute_script(f"return window.tinyrnnInfluence({j})"))
        assert len(got) == min(j, 64)
        np.testing.assert_allclose(got, want[j, : len(got)], atol=want[j].max() / 255 / 2 * 1.001 + 1e-7)
    spans = browser.find_elements("css selector", "#text span:not(.oov)")
    j = 100
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", spans[j])
    ActionChains(browser).move_to_element(spans[j]).perform()
    shadows = browser.execute_script(
        f"return Array.from(document.querySelectorAll('#text span:not(.oov)')).slice({j - 64}, {j + 1})"
        ".map(s => s.style.boxShadow)"
    )
    assert shadows[-1] == "" and all(shadows[:-1])
    strongest = 64 - int(np.argmax(want[j]))  # its index in the slice
    alpha = [1.0 if x.startswith("rgb(") else float(x.split(")")[0].split(",")[-1]) for x in shadows[:-1]]
    assert alpha[strongest - 1] == 1.0 == max(alpha)  # the strongest fully underlined
    np.testing.assert_allclose(alpha[::-1], want[j] / want[j].max(), atol=0.5 / 255 + 1e-3)
    assert f"{int(np.argmax(want[j])) + 1} back" in browser.find_element("id", "tip").text
