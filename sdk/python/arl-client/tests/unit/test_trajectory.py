"""fetch_trajectory: pages are asked for after the last seq received, until one is empty."""
import json

import pytest

from arl_client.trajectory import fetch_trajectory


def test_pages_follow_the_last_seq_until_an_empty_page():
    asked = []
    store = [{"seq": i, "kind": "execute"} for i in range(1, 6)]

    def page(since):
        asked.append(since)
        later = [x for x in store if x["seq"] > since][:2]
        return "".join(json.dumps(x) + "\n" for x in later).encode()

    assert [x["seq"] for x in fetch_trajectory(page, 1)] == [2, 3, 4, 5]
    assert asked == [1, 3, 5]


def test_since_must_be_a_whole_number():
    with pytest.raises(ValueError, match="since must be a whole number >= 0"):
        fetch_trajectory(lambda s: b"", -1)
