"""Plain-text tables for the command line: left-aligned columns, two spaces apart."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def text_table(header: Sequence, rows: Iterable[Sequence], *, rule: bool = False) -> list[str]:
    """The table's lines: ``header``, a rule of dashes under it when ``rule``, then ``rows``.

    Every cell is ``str()``-ed and padded to its column's widest cell; trailing blanks are
    stripped from each line.
    """
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
