"""What the pages' controls share."""

from __future__ import annotations

# Search boxes search as you type: the text goes to the server once typing pauses this long (Enter and
# leaving the box send it at once), not on every key and not only on Enter, which nothing on the page said.
SEARCH_DEBOUNCE_S = 0.4
