"""Text as the source gives it, made fit for display and search."""

import re
import unicodedata

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def decode_escapes(text: str) -> str:
    """Decode literal `\\u00e9`-style escapes, which about 700 source names hold as plain text."""
    if "\\u" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def search_key(*parts: str) -> str:
    """Lower-case, accent-free form of a name for search, so `mbappe` finds Mbappé.

    NFKD splits a letter from its accents, which are then dropped; letters that
    do not decompose (ø, ł, ß) are mapped by hand.
    """
    text = " ".join(p for p in parts if p)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold()
    return text.translate(_UNDECOMPOSED)


_UNDECOMPOSED = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "\u0131": "i",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ð": "d",
    }  # \u0131: dotless i
)
