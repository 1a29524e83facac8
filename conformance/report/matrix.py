"""Audit matrix across several results files: targets as columns, like a "can I use" table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from conformance.report.html import environment
from conformance.report.markdown import code, md, table_lines
from conformance.report.model import feature_matrix, target_names

Sources = Sequence[str | Path] | None


def build_matrix(results_list: Sequence[Mapping[str, Any]], sources: Sources = None) -> dict[str, Any]:
    """The matrix as plain data.

    ``sources`` (the files the results came from, parallel to ``results_list``) only serve to
    tell apart targets of the same name: ``prod (run-a)``. Returns::

        {"columns": [{"name", "target", "source"}],
         "features": [{"protocol", "feature", "cells": [{"worst", "counts", "text"} | None]}],
         "clients": [{"client", "feature", "cells": [{"result", "version", "detail"} | None]}],
         "cases": [{"id", "title", "protocol", "feature", "cells": [verdict | None]}]}
    """
    stems = _stems(sources) if sources else [f"results {i}" for i in range(1, len(results_list) + 1)]
    pairs = [(i, name) for i, results in enumerate(results_list) for name in target_names(results)]
    columns = _columns(pairs, stems)

    features: dict[tuple[str, str], list[Any]] = {}
    cases: dict[str, dict[str, Any]] = {}
    for col, (i, name) in enumerate(pairs):
        mine = [c for c in results_list[i]["cases"] if c["target"] == name]
        for row in feature_matrix(mine):
            cell = {"worst": row.worst, "counts": dict(row.counts), "text": row.text}
            features.setdefault((row.protocol, row.feature), [None] * len(pairs))[col] = cell
        for case in mine:
            entry = cases.setdefault(case["id"], {
                "id": case["id"], "title": case["title"], "protocol": case["protocol"],
                "feature": case["feature"], "cells": [None] * len(pairs),
            })
            entry["cells"][col] = case["verdict"]
    clients: dict[tuple[str, str], list[Any]] = {}
    for col, (i, name) in enumerate(pairs):
        for row in results_list[i].get("client_readiness") or []:
            cells = clients.setdefault((row["client"], row["feature"]), [None] * len(pairs))
            result = str(row.get("outcome", "not exercised")).replace(" ", "_")
            cells[col] = {"result": result, "version": row.get("version", ""), "detail": row.get("detail", "")}
    return {
        "columns": columns,
        "features": [{"protocol": p, "feature": f, "cells": features[p, f]} for p, f in sorted(features)],
        "clients": [{"client": c, "feature": f, "cells": clients[c, f]} for c, f in clients],
        "cases": [cases[key] for key in sorted(cases, key=lambda k: (cases[k]["protocol"], cases[k]["feature"], k))],
    }


def _stems(sources: Sequence[str | Path]) -> list[str]:
    """Short names of the source files: the stem, or folder/stem where stems repeat
    (``clean/results`` and ``faulty/results`` rather than ``results`` twice)."""
    paths = [Path(s) for s in sources]
    stems = [p.stem for p in paths]
    return [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 and p.parent.name else p.stem for p in paths]


def _columns(pairs: list[tuple[int, str]], stems: list[str]) -> list[dict[str, str]]:
    """Column names: the target name, with the file stem added where names repeat."""
    repeats = Counter(name for _, name in pairs)
    labels = [f"{name} ({stems[i]})" if repeats[name] > 1 else name for i, name in pairs]
    seen: Counter[str] = Counter()
    columns = []
    for (i, name), label in zip(pairs, labels):
        seen[label] += 1
        if labels.count(label) > 1:
            label = f"{label} #{seen[label]}"
        columns.append({"name": label, "target": name, "source": stems[i]})
    return columns


def render_matrix_html(results_list: Sequence[Mapping[str, Any]], sources: Sources = None) -> str:
    return environment().get_template("matrix.html.j2").render(
        matrix=build_matrix(results_list, sources),
        tools=sorted({f"{r['tool']['name']} {r['tool']['version']}" for r in results_list}),
    )


def render_matrix_markdown(results_list: Sequence[Mapping[str, Any]], sources: Sources = None) -> str:
    matrix = build_matrix(results_list, sources)
    names = [md(c["name"]) for c in matrix["columns"]]
    lines = ["# Conformance matrix", "", "## Features", ""]
    lines += table_lines(["Protocol", "Feature", *names],
                    [[md(r["protocol"]), md(r["feature"]), *map(_feature_cell, r["cells"])] for r in matrix["features"]])
    if matrix["clients"]:
        lines += ["", "## Client readiness", ""]
        lines += table_lines(["Client", "Feature", *names],
                        [[md(r["client"]), code(r["feature"]), *map(_client_cell, r["cells"])] for r in matrix["clients"]])
    lines += ["", "## Cases", ""]
    lines += table_lines(["Case", *names],
                    [[f"{md(c['title'])} {code(c['id'])}", *(v or "—" for v in c["cells"])] for c in matrix["cases"]])
    return "\n".join(lines) + "\n"


def _client_cell(cell: Mapping[str, Any] | None) -> str:
    if not cell:
        return "—"
    text = {"works": "works", "breaks": "**breaks**"}.get(cell["result"], "not exercised")
    return f"{text} ({md(cell['version'])})" if cell.get("version") else text


def _feature_cell(cell: Mapping[str, Any] | None) -> str:
    return f"**{cell['worst']}** ({cell['text']})" if cell else "—"

