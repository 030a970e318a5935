"""Both HTML reports opened in headless Chromium, as a reader opens them: no script error, every figure
loads, a click on a column header sorts the rows (again: reverses them), the page fits 1400 px with no
horizontal scrolling. Screenshots go to the test's folder and, with BENCH_SCREENSHOTS=DIR, to DIR.

The checker is also fed pages broken on purpose (a figure that does not load, a sort that does
nothing, a table too wide, a script error) and must name each fault. Skipped without ``chromium``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from benchmark.reports.report import write_reports

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
WIDTH = 1400

# Runs first in <head>: records script errors and console.error calls; on load, clicks the headers of the
# requested columns of the first sortable table and records the rows after each click, checks every
# image and the page's width, and writes it all as JSON into a <script> element read from the dumped DOM.
PROBE = r"""<script>
window.__problems = [];
window.addEventListener('error', function (e) { window.__problems.push('error: ' + (e.message || e.type)); }, true);
(function () {
  var original = console.error;
  console.error = function () {
    window.__problems.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
})();
window.addEventListener('load', function () {
  var out = {problems: window.__problems, images: [], sorts: {}, scrollWidth: document.documentElement.scrollWidth,
             innerWidth: window.innerWidth, scrollHeight: document.documentElement.scrollHeight, scrollers: [],
             beyond: []};
  Array.prototype.forEach.call(document.images, function (img) {
    out.images.push({alt: (img.alt || '').slice(0, 60), width: img.naturalWidth, complete: img.complete});
  });
  Array.prototype.forEach.call(document.querySelectorAll('body *'), function (el) {
    var style = getComputedStyle(el);
    if (/(auto|scroll)/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 1) { out.scrollers.push(el.tagName); }
    var right = el.getBoundingClientRect().right;
    if (right > window.innerWidth + 0.5 && out.beyond.length < 5) {
      out.beyond.push(el.tagName + ' ' + Math.round(right) + ' px: ' + (el.textContent || el.getAttribute('alt') || '').trim().slice(0, 40));
    }
  });
  var table = document.querySelector('table.sortable');
  var wanted = JSON.parse(document.documentElement.getAttribute('data-sort-columns') || '[]');
  function rows(column) {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return [r.cells[0].textContent.trim(), r.cells[column].textContent.trim()];
    });
  }
  wanted.forEach(function (name) {
    if (!table) { out.sorts[name] = null; return; }
    var headers = Array.prototype.map.call(table.tHead.rows[0].cells, function (h) { return h.textContent.trim(); });
    var column = headers.indexOf(name);
    if (column < 0) { out.sorts[name] = null; return; }
    var record = {before: rows(column)};
    table.tHead.rows[0].cells[column].click();
    record.first = rows(column);
    table.tHead.rows[0].cells[column].click();
    record.second = rows(column);
    out.sorts[name] = record;
  });
  var node = document.createElement('script');
  node.type = 'application/json';
  node.id = 'probe-result';
  node.textContent = JSON.stringify(out).replace(/</g, '\\u003c');
  document.body.appendChild(node);
});
</script>"""


def _chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:   # a fresh profile: no HOME needed, nothing left behind
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                               "--hide-scrollbars", "--no-first-run", "--disable-extensions",
                               f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args],
                              capture_output=True, text=True, timeout=timeout)


def inspect(page: Path, sort_columns: list[str], work: Path) -> dict:
    """Open a copy of the page with the probe in Chromium at 1400 px; the probe's findings."""
    text = page.read_text()
    probed = re.sub(r"<head>", "<head>" + PROBE, text, count=1)
    probed = probed.replace("<html", f"<html data-sort-columns='{json.dumps(sort_columns)}'", 1)
    copy = work / f"probed-{page.name}"
    copy.write_text(probed)
    done = _chromium(f"--window-size={WIDTH},1000", "--dump-dom", copy.resolve().as_uri())
    found = re.search(r'<script type="application/json" id="probe-result">(.*?)</script>', done.stdout, re.S)
    assert found, f"the probe did not report (chromium exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(found.group(1))


def _number(text: str) -> float | None:
    match = re.match(r"\s*([-+\u2212]?\d+(?:\.\d+)?)\s*([kMG](?![a-z]))?", text)
    if not match:
        return None
    return float(match.group(1).replace("\u2212", "-")) * {"k": 1e3, "M": 1e6, "G": 1e9}.get(match.group(2), 1)


def _sorted(values: list[str], descending: bool) -> bool:
    filled = [v for v in values if v]
    if any(values[len(filled):]):   # blanks last
        return False
    keys = [_number(v) for v in filled]
    keys = keys if all(k is not None for k in keys) else [v.lower() for v in filled]
    return keys == sorted(keys, reverse=descending)


def problems(result: dict) -> list[str]:
    """Everything a reader would trip over, as one line each (empty: the page is fine)."""
    found = [f"script: {p}" for p in result["problems"]]
    found += [f"image not loaded: {i['alt']!r}" for i in result["images"] if not (i["complete"] and i["width"] > 0)]
    if result["scrollWidth"] > WIDTH:
        found.append(f"page is {result['scrollWidth']} px wide, wider than {WIDTH} px ({'; '.join(result['beyond'])})")
    found += [f"horizontal scrolling inside a {tag} element" for tag in result["scrollers"]]
    for name, record in result["sorts"].items():
        if record is None:
            found.append(f"no sortable column {name!r}")
            continue
        if sorted(record["first"]) != sorted(record["before"]) or sorted(record["second"]) != sorted(record["before"]):
            found.append(f"sorting by {name!r} lost or broke rows")
        values = [v for _, v in record["first"]]
        if record["first"] == record["before"] and not _sorted([v for _, v in record["before"]], False):
            found.append(f"a click on {name!r} did not reorder the rows")
        elif not _sorted(values, False):
            found.append(f"a click on {name!r} did not sort ascending: {values}")
        if not _sorted([v for _, v in record["second"]], True):
            found.append(f"a second click on {name!r} did not sort descending")
    return found


def screenshot(page: Path, height: int, to: Path) -> Path:
    """The whole page as one PNG (window as tall as the page, at most 16,000 px)."""
    to.mkdir(parents=True, exist_ok=True)
    path = to / f"{page.stem}.png"
    _chromium(f"--window-size={WIDTH},{min(max(height, 800), 16000)}", f"--screenshot={path}", page.resolve().as_uri())
    assert path.is_file() and path.stat().st_size > 10_000, f"no screenshot of {page}"
    extra = os.environ.get("BENCH_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    """Both reports of a small stored run with rows of every family (the store test_report.py writes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from test_report import _fake_store

    root = tmp_path_factory.mktemp("browser")
    png = root / "pixelcnn-samples.png"
    plt.imsave(png, np.random.default_rng(0).random((28, 28)), cmap="gray")
    _fake_store(root / "run", png, rich=True)
    write_reports([root / "run"], root / "reports")
    return root / "reports"


@pytest.mark.parametrize("suite, columns", [("video", ["video hit@1", "method", "params"]),
                                            ("generative", ["bits/dim", "NLL nats"])])
def test_report_reads_in_a_browser(reports, suite, columns, tmp_path):
    page = reports / f"{suite}.html"
    result = inspect(page, columns, tmp_path)
    assert problems(result) == []
    assert len(result["images"]) == page.read_text().count("data:image/png;base64,") >= 4
    for name in columns:   # the sort reordered these rows (they are not in sorted order to begin with)
        assert result["sorts"][name]["first"] != result["sorts"][name]["before"], name
    screenshot(page, result["scrollHeight"], tmp_path / "screenshots")


def _page(body: str, script: str = "") -> str:
    """A minimal report-like page: the real sorting script unless another is given."""
    from benchmark.reports.html import SCRIPT, STYLE

    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{STYLE}</style></head><body>{body}"
            f"<script>{script or SCRIPT}</script></body></html>")


TABLE = ("<table class='sortable'><thead><tr><th>method</th><th>video hit@1</th></tr></thead><tbody>"
         "<tr><td>b</td><td>40.0 [30.0, 50.0]</td></tr><tr><td>a</td><td>9.5 [2.0, 20.0]</td></tr>"
         "<tr><td>c</td><td>100.0 [90.0, 100.0]</td></tr><tr><td>d</td><td></td></tr></tbody></table>")
GOOD_IMAGE = ("<img alt='one pixel' src='data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlE"
              "QVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='>")


@pytest.mark.parametrize("name, page, expected", [
    ("a figure that does not load", _page(TABLE + "<img alt='missing figure' src='data:image/png;base64,AAAA'>"),
     "image not loaded: 'missing figure'"),
    ("a sort that does nothing", _page(TABLE, "document.querySelectorAll('th').forEach(function (h) {"
                                              "h.addEventListener('click', function () {}); });"),
     "a click on 'video hit@1' did not reorder the rows"),
    ("a table too wide", _page(TABLE + "<table><tr><td style='min-width:2000px'>wide</td></tr></table>"),
     "wider than 1400 px"),
    ("a table in a scrolling box", _page(TABLE + "<div style='overflow-x:auto'><table><tr><td style='min-width:2000px'>"
                                         "wide</td></tr></table></div>"), "horizontal scrolling inside a DIV"),
    ("a script error", _page(TABLE, "undefinedFunction();"), "script: error: Uncaught ReferenceError"),
    ("no sortable table", _page(TABLE.replace("class='sortable'", "")), "no sortable column 'video hit@1'"),
])
def test_checker_names_what_is_broken(name, page, expected, tmp_path):
    path = tmp_path / "broken.html"
    path.write_text(page)
    found = problems(inspect(path, ["video hit@1"], tmp_path))
    assert any(expected in line for line in found), (name, found)


def test_checker_passes_a_good_page(tmp_path):
    path = tmp_path / "good.html"
    path.write_text(_page(TABLE + GOOD_IMAGE))
    result = inspect(path, ["video hit@1", "method"], tmp_path)
    assert problems(result) == []
    assert [m for m, _ in result["sorts"]["video hit@1"]["first"]] == ["a", "b", "c", "d"]   # numeric, blank last
    assert [m for m, _ in result["sorts"]["video hit@1"]["second"]] == ["c", "b", "a", "d"]
