"""Bar charts as plain Vega-Lite specs over Arrow tables.

`st.bar_chart` builds its chart with Altair, which validates the spec against the Vega-Lite JSON schema on every
script run (about 20 ms a chart here, more than the page's own queries); a fixed spec renders the same bars without.
The bars' values go to Streamlit as a pyarrow table, which it serializes as it is: a pandas frame (or a list of
rows) would first be converted column by column, which cost more than the chart's own query.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import streamlit as st


def bars(
    columns: dict[str, Sequence[object]],
    *,
    category: str,
    value: str,
    height: int,
    stack: str | None = None,
    horizontal: bool = False,
) -> None:
    """One bar per `category` value of length `value`; with `stack`, that column's values stacked and colored.

    `columns` maps each column's name to its values, all of one length.
    """
    category_axis = {"field": category, "type": "nominal", "sort": None, "title": None}
    value_axis = {"field": value, "type": "quantitative"}
    encoding = {"y": category_axis, "x": value_axis} if horizontal else {"x": category_axis, "y": value_axis}
    if stack is not None:
        encoding["color"] = {"field": stack, "type": "nominal", "title": None}
    st.vega_lite_chart(
        pa.table(columns), {"mark": {"type": "bar"}, "encoding": encoding}, height=height, width="stretch"
    )
