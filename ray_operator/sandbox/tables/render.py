"""Assembling a ``meta.k8s.io/v1`` Table: pick the printer for the type, render rows, attach the row objects.

``includeObject`` decides what each row carries: ``Metadata`` (the default: a PartialObjectMetadata,
which kubectl needs for ``-A``), ``Object`` or ``None``. A stored object too malformed for its printer
still gets a row (its name and empty cells), so one bad object never fails a list.
Decided against: printing on the client side (kubectl never does it for server Tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ray_operator.sandbox.resources import ResourceType
from ray_operator.sandbox.tables.columns import CREATED_AT, Cells, Obj, PrinterFn, created_at, metadata_of, named
from ray_operator.sandbox.tables.custom import column_steps, custom_cell, custom_columns, declared_columns
from ray_operator.sandbox.tables.pods import POD_COLUMNS, print_pod
from ray_operator.sandbox.tables.printers import PRINTERS


def _fallback_cells(obj: Obj, width: int) -> Cells:
    """The name and empty cells, for a stored object too malformed for its printer."""
    name = metadata_of(obj).get("name", "") if isinstance(obj, Mapping) else ""
    return [name, *([None] * (width - 1))]


def _safe_cells(printer: PrinterFn, obj: Obj, now: datetime, width: int) -> Cells:
    try:
        return printer(obj, now)
    except (AttributeError, TypeError, ValueError):
        return _fallback_cells(obj, width)


def _row_object(obj: Obj, include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return dict(obj)
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": dict(metadata_of(obj))}


def render_table(
    rt: ResourceType, objects: list[dict[str, Any]], *, include_object: str, now: datetime
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects``; the caller fills ``metadata.resourceVersion``/``continue``.

    ``include_object`` is the request's ``includeObject``: ``Metadata`` (the default: a
    PartialObjectMetadata, which kubectl needs for ``-A``), ``Object`` or ``None``.
    """
    rows: list[dict[str, Any]] = []
    if rt.is_custom:
        columns = custom_columns(rt.printer_columns)
        declared = [(col, column_steps(col)) for col in declared_columns(rt.printer_columns)]  # parsed once
        for obj in objects:
            cells: Cells = [metadata_of(obj).get("name", "")]
            cells.extend(custom_cell(col, steps, obj, now) for col, steps in declared)
            rows.append({"cells": cells})
    elif (rt.group, rt.kind) == ("", "Pod"):
        columns = POD_COLUMNS
        for obj in objects:
            try:
                pod_cells, conditions = print_pod(obj, now)
            except (AttributeError, TypeError, ValueError):
                pod_cells, conditions = _fallback_cells(obj, len(columns)), []
            row: dict[str, Any] = {"cells": pod_cells}
            if conditions:
                row["conditions"] = conditions
            rows.append(row)
    else:
        columns, printer = PRINTERS.get((rt.group, rt.kind), (named(CREATED_AT), created_at))
        rows = [{"cells": _safe_cells(printer, obj, now, len(columns))} for obj in objects]
    for row, obj in zip(rows, objects, strict=True):
        row_object = _row_object(obj, include_object)
        if row_object is not None:
            row["object"] = row_object
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [dict(c) for c in columns],
        "rows": rows,
    }
