"""Text from the URL shown safely: Streamlit renders st.warning's body as markdown (links,
images, `:red[...]` directives, LaTeX), so every message that may quote a URL key or
value goes through `plain`, which escapes what markdown would interpret and caps the
length, and a page shows all of a URL's problems in one warning."""

from __future__ import annotations

import re

import streamlit as st

MAX_MESSAGE = 240  # characters of one message
MAX_MESSAGES = 8  # messages listed in the warning; the rest are counted
# markdown's (and Streamlit's) active characters; ':' only where it could open a
# directive or an emoji (not before a space, as in "key: message")
_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&=\"^@]|:(?! ))")


def plain(text: str, limit: int = MAX_MESSAGE) -> str:
    """Markdown that renders as exactly `text` (cut to `limit` characters, on one line)."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _ACTIVE.sub(r"\\\1", text)


def url_warnings(messages: list[str]) -> None:
    """One warning listing the URL's ignored settings (none: nothing shown)."""
    if not messages:
        return
    shown = [f"- {plain(m)}" for m in messages[:MAX_MESSAGES]]
    if len(messages) > MAX_MESSAGES:
        shown.append(f"- and {len(messages) - MAX_MESSAGES} more")
    title = "URL setting ignored." if len(messages) == 1 else "URL settings ignored."
    st.warning("\n".join([title, "", *shown]), icon=":material/warning:")
