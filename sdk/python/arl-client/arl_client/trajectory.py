"""Reading a sandbox's trajectory page by page (GET /trajectory?since=N on its executor)."""
import json
from typing import Any, Callable, Dict, List


def fetch_trajectory(get_page: Callable[[int], bytes], since: int = 0) -> List[Dict[str, Any]]:
    """Every line with seq > since. The executor answers at most one page per request;
    the next page starts after the last seq received, and an empty page is the end."""
    if not isinstance(since, int) or isinstance(since, bool) or since < 0:
        raise ValueError(f"trajectory: since must be a whole number >= 0, not {since!r}")
    lines: List[Dict[str, Any]] = []
    while True:
        page = [json.loads(line) for line in get_page(since).splitlines() if line.strip()]
        if not page:
            return lines
        lines.extend(page)
        since = page[-1]["seq"]
