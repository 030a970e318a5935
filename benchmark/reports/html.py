"""The HTML page of one report section: one self-contained file (figures as base64 PNG, style and a
small sorting script inline) meant to be shared.

Layout: a header saying once what every row shares (data, design, machine, device), the summary
figures, the results table (click a column header to sort, again to reverse; † published figures in
footnotes, full text on hover), notes, the Findings, the other tables and the figures with captions.
"""
from __future__ import annotations

import base64
import html
import re

import pandas as pd

from benchmark.common.plotting import verdict_key
from benchmark.reports.figures import ARTEFACT_CAPTIONS

STYLE = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:1400px;margin:0 auto;
 padding:0 24px 48px}
h1{margin:24px 0 4px}h2{margin:32px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0;font-size:13px}
dl.meta dt{font-weight:600;color:#555}dl.meta dd{margin:0;overflow-wrap:anywhere}
.warning{background:#fde2e1;border:1px solid #d62728;padding:6px 10px;font-weight:600}
.intro,.hint,.note{color:#444;font-size:13px;max-width:1100px}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0}
th,td{padding:4px 7px;border-bottom:1px solid #e2e2e2;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f3f3f3;position:sticky;top:0;vertical-align:bottom}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th:hover{background:#e6eef8}
th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
tbody tr:hover{background:#f8f8f8}
td.num{white-space:nowrap}
.ref a,.footnotes a{color:#555;text-decoration:none}
.footnotes{font-size:12px;color:#555;max-width:1150px;padding-left:2.5em}
.measure{display:block;color:#666;font-size:11.5px}
.verdict{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-weight:600;white-space:nowrap}
.supported{background:#2ca02c}.contradicted{background:#d62728}.inconclusive{background:#7f7f7f}
.not-tested{background:#bbb}
figure{margin:16px 0}img{max-width:100%;height:auto}
figcaption{font-size:13px;color:#333;max-width:1100px;margin-top:4px}
.gallery{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.gallery figure{margin:0}.gallery figcaption{font-weight:600;text-align:center}
.samples img{width:300px}.reconstructions img{width:400px}.interpolations img{width:400px}.arithmetic img{width:200px}
"""

# Numeric-aware: a cell that starts with a number (optionally k/M/G) sorts by it when every filled cell of
# the column does; blanks go last either way; equal keys keep their order (Array.sort is stable).
SCRIPT = r"""
(function () {
  var scale = {k: 1e3, M: 1e6, G: 1e9};
  function number(text) {
    var m = /^\s*([-+\u2212]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)\s*([kMG](?![a-z]))?/.exec(text);
    return m ? parseFloat(m[1].replace('\u2212', '-')) * (scale[m[2]] || 1) : null;
  }
  function sortBy(table, column, header) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var ascending = header.getAttribute('aria-sort') !== 'ascending';
    var texts = rows.map(function (row) {
      var cell = row.cells[column];
      return cell ? (cell.getAttribute('data-sort') || cell.textContent).trim() : '';
    });
    var numeric = texts.every(function (t) { return t === '' || number(t) !== null; });
    var order = rows.map(function (_, i) { return i; });
    order.sort(function (a, b) {
      var x = texts[a], y = texts[b];
      if (x === '' || y === '') { return (x === '') - (y === ''); }
      var d = numeric ? number(x) - number(y) : x.localeCompare(y, undefined, {numeric: true});
      return ascending ? d : -d;
    });
    order.forEach(function (i) { body.appendChild(rows[i]); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute('aria-sort'); });
    header.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.tabIndex = 0;
      header.title = 'sort by this column (again: reverse)';
      header.addEventListener('click', function () { sortBy(table, column, header); });
      header.addEventListener('keydown', function (e) { if (e.key === 'Enter') { sortBy(table, column, header); } });
    });
  });
})();
"""


_NUMBER = re.compile(r"\s*[-+\u2212]?\d")


def esc(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _cell_text(value) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def table(frame: pd.DataFrame, cell=None, sortable: bool = True) -> str:
    """An HTML table; ``cell(column, text, row) -> html or None`` renders special cells (None: the text)."""
    head = "".join(f"<th scope='col'>{esc(c)}</th>" for c in frame.columns)
    rows = []
    for i, values in enumerate(frame.itertuples(index=False)):
        cells = []
        for column, value in zip(frame.columns, values):
            text = _cell_text(value)
            special = cell(column, text, i) if cell else None
            kind = " class='num'" if _NUMBER.match(text) else ""
            cells.append(f"<td{kind}>{esc(text) if special is None else special}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    kind = " class='sortable'" if sortable else ""
    return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


class Footnotes:
    """† published figures: a short value in the cell (full text on hover), the full text numbered below."""

    def __init__(self):
        self.texts: list[str] = []

    def cell(self, text: str) -> str:
        parts = [p.strip() for p in ("; " + text).split("; †") if p.strip()]
        spans = []
        for part in parts:
            full = "† " + part.lstrip("† ").strip()
            self.texts.append(full)
            k = len(self.texts)
            short = full[2:].split(":")[0]
            spans.append(f"<span class='ref' title='{esc(full)}'>{esc(short)}"
                         f"<sup><a href='#fn-{k}' id='ref-{k}'>†{k}</a></sup></span>")
        return "<br>".join(spans)

    def html(self) -> str:
        if not self.texts:
            return ""
        items = "".join(f"<li id='fn-{k}'>{esc(t)} <a href='#ref-{k}'>↩</a></li>"
                        for k, t in enumerate(self.texts, 1))
        return f"<ol class='footnotes'>{items}</ol>"


def _png_data(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def compact_png(png: bytes, max_bytes: int = 100_000) -> bytes:
    """Halve large image grids (noisy samples compress badly) so the self-contained page stays small; charts
    are never halved, their labels would no longer read."""
    import cv2
    import numpy as np

    while len(png) > max_bytes:
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None or min(image.shape[:2]) < 300:
            break
        half = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
        png = cv2.imencode(".png", half, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1].tobytes()
    return png


def _figure(section, name: str, number: int) -> str:
    caption = section.captions.get(name, name)
    return (f"<figure id='fig-{esc(name.replace(' ', '-'))}'><img src='{_png_data(section.figures[name])}' "
            f"alt='{esc(caption)}'><figcaption><b>Figure {number}.</b> {esc(caption)}</figcaption></figure>")


def _gallery(section, names: list[str], where: str, number: int) -> str:
    title, text = next((t, x) for w, t, x in ARTEFACT_CAPTIONS.values() if w == where)
    cards = "".join(f"<figure><img src='{_png_data(compact_png(section.figures[n]))}' alt='{esc(section.captions[n])}' "
                    f"title='{esc(section.captions[n])}'><figcaption>{esc(section.captions[n].split(':')[0])}"
                    f"</figcaption></figure>" for n in names)
    return (f"<section id='{where}'><h2>{esc(title)}</h2><p class='note'><b>Figure {number}.</b> {esc(text)}</p>"
            f"<div class='gallery {where}'>{cards}</div></section>")


def _header(suite: str, header: list[tuple[str, str]], shared: dict[str, str]) -> str:
    warnings = "".join(f"<p class='warning'>{esc(label)}: {esc(value)}</p>" for label, value in header
                       if label == "WARNING")
    items = [(label, value) for label, value in header if label != "WARNING"]
    if shared:
        items.append(("every row", "; ".join(f"{k}: {v}" for k, v in shared.items())))
    meta = "".join(f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>" for label, value in items)
    return f"<header><h1>{esc(suite.capitalize())} suite</h1>{warnings}<dl class='meta'>{meta}</dl></header>"


def _findings(section) -> str:
    frame = section.findings
    shown = frame[[c for c in ("claim", "verdict", "effect [95% CI]", "n videos", "runs x test images", "p (Holm)")
                   if c in frame]]

    def cell(column, text, row):
        if column == "claim":
            return f"{esc(text)}<span class='measure'>{esc(frame['measure'].iloc[row])}</span>"
        if column == "verdict":
            return f"<span class='verdict {verdict_key(text).replace(' ', '-')}'>{esc(text)}</span>"
        return None

    return (f"<section id='findings'><h2>Findings</h2><p class='note'>{esc(section.findings_note)}</p>"
            f"{table(shown, cell)}</section>")


def page(section, header: list[tuple[str, str]], shown: pd.DataFrame, shared: dict[str, str], intro: str,
         paper_note: str) -> str:
    """The whole page; ``shown`` is the results table without the columns ``shared`` states once."""
    placement = {name: section.placement.get(name, "figures") for name in section.figures}
    number = iter(range(1, len(section.figures) + 1))
    body = [_header(section.suite, header, shared), f"<p class='intro'>{esc(intro)}</p>"]
    top = [n for n, where in placement.items() if where == "top"]
    if top:
        body += ["<section id='summary'>", *(_figure(section, n, next(number)) for n in top), "</section>"]
    notes = Footnotes()
    paper = next((c for c in shown.columns if c.startswith("paper")), None)
    body += ["<section id='results'><h2>Results</h2>",
             "<p class='hint'>Click a column header to sort by it, again to reverse. † marks a published "
             "figure (hover for its source; full text below the table).</p>",
             table(shown, lambda column, text, row: notes.cell(text) if column == paper and text else None),
             notes.html(),
             "<ul class='note'>" + "".join(f"<li>{esc(n)}</li>" for n in section.notes) + "</ul>",
             f"<p class='note'>{esc(paper_note)}</p></section>"]
    if section.findings is not None:
        body.append(_findings(section))
    for title, extra in section.extra_tables.items():
        body += [f"<section><h2>{esc(title)}</h2>", table(extra), "</section>"]
    rest = [n for n, where in placement.items() if where == "figures"]
    if rest:
        body += ["<section id='figures'><h2>Figures</h2>", *(_figure(section, n, next(number)) for n in rest),
                 "</section>"]
    for where in ("samples", "nearest", "interpolations", "arithmetic", "reconstructions"):
        names = [n for n, w in placement.items() if w == where]
        if names:
            body.append(_gallery(section, names, where, next(number)))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>cvbench {esc(section.suite)} report</title><style>{STYLE}</style></head>"
            f"<body>{''.join(body)}<script>{SCRIPT}</script></body></html>\n")
