"""Waits are a list, then a watch from its resourceVersion: never a polling loop."""
from arl_client.k8s_adapter_wait import wait_for, wait_for_object


class ScriptedBackend:
    """list answers in turn; each watch yields its scripted events, then ends."""

    def __init__(self, lists, watches):
        self.lists, self.watches = list(lists), list(watches)
        self.calls = []

    def list(self, api_version, kind, namespace, label_selector=None, field_selector=None):
        self.calls.append(("list", field_selector, label_selector))
        return self.lists.pop(0)

    def watch(self, api_version, kind, namespace, rv, timeout, field_selector=None, label_selector=None):
        self.calls.append(("watch", rv))
        yield from self.watches.pop(0)


def obj(name, ready):
    return {"metadata": {"name": name}, "ready": ready}


def test_answer_from_the_list_needs_no_watch():
    b = ScriptedBackend([{"items": [obj("a", True)], "metadata": {"resourceVersion": "7"}}], [])
    answer, current = wait_for_object(b, "v1", "Pod", "a", "ns", lambda o: o and o["ready"] or None, 1e9)
    assert answer is True and current == obj("a", True)
    assert b.calls == [("list", "metadata.name=a", None)]


def test_watch_events_until_the_check_answers():
    b = ScriptedBackend([{"items": [obj("a", False)], "metadata": {"resourceVersion": "7"}}],
                        [[("MODIFIED", obj("a", False)), ("MODIFIED", obj("a", True)), ("MODIFIED", obj("a", False))]])
    answer, current = wait_for_object(b, "v1", "Pod", "a", "ns", lambda o: o and o["ready"] or None, 1e9)
    assert answer is True and current == obj("a", True)
    assert b.calls == [("list", "metadata.name=a", None), ("watch", "7")]


def test_an_error_event_starts_over_with_a_fresh_list():
    b = ScriptedBackend([{"items": [], "metadata": {"resourceVersion": "7"}},
                         {"items": [obj("a", True), obj("b", True)], "metadata": {"resourceVersion": "20"}}],
                        [[("ERROR", {"code": 410})]])
    answer, objs = wait_for(b, "v1", "Pod", "ns", lambda o: len(o) == 2 or None, 1e9, label_selector="app=x")
    assert answer is True and sorted(objs) == ["a", "b"]
    assert b.calls == [("list", None, "app=x"), ("watch", "7"), ("list", None, "app=x")]


def test_deleted_objects_leave_the_set():
    b = ScriptedBackend([{"items": [obj("a", True), obj("old", True)], "metadata": {"resourceVersion": "1"}}],
                        [[("DELETED", obj("old", True))]])
    answer, objs = wait_for(b, "v1", "Pod", "ns", lambda o: ("old" not in o) or None, 1e9)
    assert answer is True and list(objs) == ["a"]


def test_deadline_returns_none_with_the_last_state():
    t = [0.0]

    def clock():
        t[0] += 1.0
        return t[0]

    b = ScriptedBackend([{"items": [obj("a", False)], "metadata": {"resourceVersion": "1"}}],
                        [[("MODIFIED", obj("a", False))] * 10])
    answer, current = wait_for_object(b, "v1", "Pod", "a", "ns", lambda o: o and o["ready"] or None, 3.0,
                                      clock=clock)
    assert answer is None and current == obj("a", False)
