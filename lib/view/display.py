"""Tables for the notebooks: pandas frames and small HTML tables that render in Colab and in HTML exports.

Text cells are escaped and wrapped at spaces only (a word or number is never split; a table too wide for the
page scrolls inside it); the same HTML is saved with the run so collaborators see exactly what the notebook
showed. A value that is not a number (None, NaN, an infinity) is never printed as one: `number` and
`interval` give "" and the caller says why; a path on this machine is shown from the project (or outputs)
folder, so a shared page never names the machine's folders.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..files import storage

# pre-line keeps a text's line breaks but folds its runs of spaces and tabs: in pre-wrap, a tab or spaces at a
# line's end hang past the cell's edge and over the next cell on a phone (a generation ending "ular\t\n" did)
CELL_STYLE = "text-align:left;vertical-align:top;white-space:pre-line;max-width:42em"
BREAKS = re.compile(r"\r\n?|[\v\f\x1c-\x1e\x85\u2028\u2029]")  # line ends other than \n, as \n
UNSEEN = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")  # control characters, never shown
MISSING = "\u2014"  # what a table shows where there is no value (never "None" or "nan")


def finite(value) -> bool:
    """A real number that means something (not None, NaN or an infinity)."""
    try:
        return value is not None and not isinstance(value, str) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def number(value, digits: int = 3, sign: bool = False) -> str:
    """`value` to `digits` significant figures ("" when it is not a finite number); `sign`: "+0.12" for
    differences. Never scientific notation for the sizes a study reports."""
    if not finite(value):
        return ""
    value = float(value)
    if value == 0:
        return "0"
    text = f"{value:{'+' if sign else ''}.{digits}g}"
    if "e" in text and 1e-4 <= abs(value) < 1e6:
        text = f"{value:{'+' if sign else ''}.{max(0, digits - 1 - math.floor(math.log10(abs(value))))}f}"
    return text.replace("-", "\u2212")


def interval(low, high, digits: int = 3) -> str:
    """"[low, high]", or "" when either end is not a finite number."""
    if not (finite(low) and finite(high)):
        return ""
    return f"[{number(low, digits)}, {number(high, digits)}]"


def shown(value) -> str:
    """A cell's text: missing values as a dash, paths from the project folder, everything else as str()."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, Path) or (isinstance(value, str) and value.startswith("/") and "\n" not in value
                                   and " " not in value):
        return storage.shown_path(value)
    return str(value)


def cell_text(value) -> str:
    """A table cell's text as a reader should see it: `shown`, with every kind of line end made a newline and
    control characters (a model's output may hold any) dropped."""
    return UNSEEN.sub("", BREAKS.sub("\n", shown(value)))


def frame(rows: Sequence[dict], columns: Sequence[str] | None = None, fill=None) -> pd.DataFrame:
    """A table of records; `fill` replaces missing values, and columns of whole numbers stay integers (a count
    reads 12, not 12.0)."""
    df = pd.DataFrame(list(rows))
    df = df[list(columns)] if columns else df
    if fill is not None:
        df = df.fillna(fill)
    for column in df.columns:
        values = df[column]
        if values.dtype.kind == "f" and values.notna().all() and (values % 1 == 0).all():
            df[column] = values.astype("int64")
        elif values.dtype.kind == "f" and not values.map(finite).all():
            df[column] = [number(v, 4) or MISSING for v in values]
        elif values.dtype.kind == "O":
            df[column] = values.map(lambda v: shown(v) if v is None or isinstance(v, (str, Path, float)) else v)
    return df


def html_table(rows: Sequence[dict], columns: Sequence[str] | None = None, title: str | None = None) -> str:
    """An escaped HTML table of text (for generations and pairs; pandas would truncate them)."""
    columns = list(columns or (rows[0].keys() if rows else []))
    head = "".join(f"<th style='{CELL_STYLE}'>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='{CELL_STYLE}'>{html.escape(cell_text(r.get(c, '')))}</td>" for c in columns)
        + "</tr>" for r in rows)
    caption = f"<caption style='text-align:left;font-weight:bold'>{html.escape(title)}</caption>" if title else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def show_html(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


def sample_pairs(pairs: Sequence[dict], n: int = 6) -> str:
    """A few pairs from each source, as an HTML table."""
    picked: list[dict] = []
    for source in sorted({p["source"] for p in pairs}):
        picked += [p for p in pairs if p["source"] == source][: max(1, n // 3)]
    rows = [{"source": p["source"], "document": p["document"], "question": p["question"],
             "answer": shorten(p["answer"], 400)} for p in picked]
    return html_table(rows, ["source", "document", "question", "answer"])


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def side_by_side(prompts: Sequence[str], answers: dict[str, Sequence[str]], title: str | None = None) -> str:
    """One row per prompt, one column per model ("base", "tuned", ...)."""
    rows = [{"prompt": p, **{arm: out[i] for arm, out in answers.items()}} for i, p in enumerate(prompts)]
    return html_table(rows, ["prompt", *answers], title)


def record(values: dict, column: str = "") -> pd.DataFrame:
    """One record (a run's resources, what an export saved) as a two-column table."""
    return pd.DataFrame({column: [shown(v) for v in values.values()]}, index=list(values))


def parameters(cfg, namespace: dict, per_row: int = 3):
    """The notebook's parameters with the values in effect (config.yaml, then what was set for this run, shown
    in bold), as one compact table: what a reader of the rendered notebook needs instead of a column of None."""
    from IPython.display import HTML

    settings = cfg.as_dict()
    keys = [k for k in namespace if k in settings]
    cells = [f"<td style='{PARAM_STYLE}'>{html.escape(k)}</td><td style='{PARAM_STYLE}'>"
             + (f"<b>{html.escape(setting(getattr(cfg, k)))}</b>" if k in cfg.given else html.escape(setting(getattr(cfg, k))))
             + "</td>" for k in keys]
    rows = ["<tr>" + "".join(cells[i:i + per_row]) + "</tr>" for i in range(0, len(cells), per_row)]
    source = html.escape(shown(namespace.get("config_file")))
    caption = (f"<caption style='text-align:left'>Parameters in effect ({source}"
               "; set for this run in bold)</caption>")
    return HTML(f"<table class='p4-parameters'>{caption}<tbody>{''.join(rows)}</tbody></table>")


def setting(value) -> str:
    """A setting's value as config.yaml spells it: null, true/false, lists joined; paths from the project."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "[]"
    return shown(value)


PARAM_STYLE = "text-align:left;padding:1px 8px;font-size:90%;max-width:22em"
