"""ui.bookmarks.keep: the URL ends up holding every parameter given, and only a changed one is sent to the browser."""
from streamlit.runtime.state.query_params import QueryParams
from streamlit.testing.v1 import AppTest


def _keep():
    from ui import bookmarks

    bookmarks.keep(lang="en", step="3")


def test_keep_writes_only_what_the_url_does_not_hold_yet(monkeypatch):
    sent = []
    original = QueryParams._send_query_param_msg
    monkeypatch.setattr(QueryParams, "_send_query_param_msg", lambda self: sent.append(dict(self)) or original(self))
    at = AppTest.from_function(_keep)
    at.query_params.update(lang="en", step="2", other="x")
    at.run()
    assert not at.exception
    assert sent == [{"lang": "en", "step": "3", "other": "x"}]  # one message, for the step that changed
    assert {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()} == {"lang": "en", "step": "3",
                                                                                           "other": "x"}
    sent.clear()
    at.query_params.update(step="3")
    at.run()  # the URL holds both already: nothing is sent
    assert sent == []
