"""The report as data (headings, tables, figures, notes), rendered to Markdown and to a
self-contained HTML page from the same blocks."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Table:
    rows: list[dict]


@dataclass(frozen=True)
class Figure:
    title: str
    path: Path


@dataclass(frozen=True)
class Notes:
    items: list[str]


def _cell(key: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and ("accuracy" in key or key.endswith("_map")):
        return f"{100 * value:.2f} %"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _columns(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for r in rows for k in r))


def to_markdown(blocks: list) -> str:
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            lines += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Table):
            keys = _columns(b.rows)
            lines.append("| " + " | ".join(k.replace("_", " ") for k in keys) + " |")
            lines.append("|" + "---|" * len(keys))
            lines += ["| " + " | ".join(_cell(k, r.get(k)) for k in keys) + " |" for r in b.rows]
            lines.append("")
        elif isinstance(b, Figure):
            lines += [f"### {b.title}", "", f"![{b.title}]({b.path.name})", ""]
        elif isinstance(b, Notes):
            lines += [f"- {n}" for n in b.items] + [""]
    return "\n".join(lines)


STYLE = (
    "body{font-family:sans-serif;max-width:980px;margin:2em auto}table{border-collapse:collapse;"
    "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}img{max-width:100%}"
)


def to_html(blocks: list, title: str = "deeplabelprop report") -> str:
    """A self-contained page: the figures embedded as base64 PNGs."""
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Table):
            keys = _columns(b.rows)
            body.append(
                "<table><tr>"
                + "".join(f"<th>{html.escape(k.replace('_', ' '))}</th>" for k in keys)
                + "</tr>"
            )
            for r in b.rows:
                body.append(
                    "<tr>"
                    + "".join(f"<td>{html.escape(_cell(k, r.get(k)))}</td>" for k in keys)
                    + "</tr>"
                )
            body.append("</table>")
        elif isinstance(b, Figure):
            data = base64.b64encode(b.path.read_bytes()).decode()
            body.append(f"<h3>{html.escape(b.title)}</h3>")
            body.append(f'<img alt="{html.escape(b.title)}" src="data:image/png;base64,{data}">')
        elif isinstance(b, Notes):
            body.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in b.items) + "</ul>")
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(body)}</body></html>"
