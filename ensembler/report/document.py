"""A tiny document model rendered to both Markdown and self-contained HTML.

Hand-written: the report needs only headings, paragraphs, tables and figures,
and one model keeps ``report.md`` and ``report.html`` saying the same thing.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Document", "Figure", "Heading", "Paragraph", "Table"]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    """A PNG figure: saved as ``figures/<name>.png``, embedded as a data URI in HTML."""

    name: str
    title: str
    png: bytes


Block = Heading | Paragraph | Table | Figure

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;font-size:13px;margin:0.8em 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
caption{caption-side:bottom;font-size:12px;color:#555;text-align:left;padding-top:4px}
figure{margin:1em 0}figcaption{font-size:13px;color:#444}img{max-width:100%}
code{background:#f6f6f6;padding:0 3px}
"""


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if isinstance(b, Heading):
                out += ["#" * b.level + " " + b.text, ""]
            elif isinstance(b, Paragraph):
                out += [b.text, ""]
            elif isinstance(b, Table):
                esc = [[c.replace("|", "\\|") for c in row] for row in b.rows]
                out.append("| " + " | ".join(b.header) + " |")
                out.append("|" + "|".join("---" for _ in b.header) + "|")
                out += ["| " + " | ".join(row) + " |" for row in esc]
                out += ([f"\n{b.caption}"] if b.caption else []) + [""]
            else:
                out += [f"![{b.title}](figures/{b.name}.png)", "", f"*{b.title}*", ""]
        return "\n".join(out)

    def to_html(self) -> str:
        e = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{e(self.title)}</h1>",
        ]
        for b in self.blocks:
            if isinstance(b, Heading):
                out.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
            elif isinstance(b, Paragraph):
                out.append(f"<p>{_inline(b.text)}</p>")
            elif isinstance(b, Table):
                head = "".join(f"<th>{e(h)}</th>" for h in b.header)
                body = "".join(
                    "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b.rows
                )
                cap = f"<caption>{e(b.caption)}</caption>" if b.caption else ""
                out.append(
                    f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                )
            else:
                data = base64.b64encode(b.png).decode("ascii")
                out.append(
                    f'<figure id="fig-{e(b.name)}"><img alt="{e(b.title)}" '
                    f'src="data:image/png;base64,{data}"><figcaption>{e(b.title)}</figcaption></figure>'
                )
        out.append("</body></html>")
        return "\n".join(out)


def _inline(text: str) -> str:
    """Escape text; render Markdown **bold** and `code` spans."""
    parts = html.escape(text).split("**")
    s = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    parts = s.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
