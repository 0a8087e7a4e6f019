"""Text from the URL shown safely: Streamlit renders st.warning's body as markdown (links,
images, `:red[...]` directives, LaTeX, and bare URLs, which GFM links even when their
characters are escaped), so every message that may quote a URL key or value is shown as
an inline code span (`plain`), cut to a bounded length, and a page shows all of a URL's
problems in one warning."""

from __future__ import annotations

import re

import streamlit as st

from core.scenarios.query import escaped

MAX_MESSAGE = 240  # characters of one message
MAX_MESSAGES = 8  # messages listed in the warning; the rest are counted


def plain(text: str, limit: int = MAX_MESSAGE) -> str:
    """Markdown that shows exactly `text` (cut to `limit` characters, on one line), as
    code: nothing inside a code span is interpreted."""
    text = escaped(" ".join(str(text).split()))  # what split() leaves: ESC, bidi controls
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # a fence longer than any run of backticks inside; spaces keep edge backticks apart
    fence = "`" * (max((len(r) for r in re.findall("`+", text)), default=0) + 1)
    return (
        f"{fence} {text} {fence}"
        if text.startswith("`") or text.endswith("`")
        else (f"{fence}{text}{fence}")
    )


def url_warnings(messages: list[str]) -> None:
    """One warning listing the URL's ignored settings (none: nothing shown)."""
    if not messages:
        return
    shown = [f"- {plain(m)}" for m in messages[:MAX_MESSAGES]]
    if len(messages) > MAX_MESSAGES:
        shown.append(f"- and {len(messages) - MAX_MESSAGES} more")
    title = "URL setting ignored." if len(messages) == 1 else "URL settings ignored."
    st.warning("\n".join([title, "", *shown]), icon=":material/warning:")
