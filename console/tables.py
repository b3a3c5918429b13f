"""Rows of a page as one grid.

The rows go to Streamlit as a pyarrow table, which it serializes as it is; a pandas frame is first built from the
rows and then converted column by column, which cost a page more than its queries (docs/console.md, Performance).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import streamlit as st


def grid(rows: Sequence[dict[str, object]]) -> None:
    """`rows` (dicts with the same keys, in display order) as a scrollable grid the width of the page."""
    st.dataframe(pa.Table.from_pylist(list(rows)), hide_index=True, width="stretch")
