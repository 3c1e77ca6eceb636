"""``ModelSession.run_chunked``: the one place a pipeline splits a large batch into bounded runs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_tasks import write_doubler_export
from toolkit import runtime
from toolkit.errors import InputError


@pytest.fixture()
def session(tmp_path):
    with pytest.warns(UserWarning, match="not registered"):
        return runtime.load(write_doubler_export(tmp_path / "doubler")).session("double")


def test_chunks_give_the_same_rows_in_order(session, monkeypatch):
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    calls = []
    run = session.run
    monkeypatch.setattr(session, "run", lambda feeds, *a, **k: calls.append(len(feeds["x"])) or run(feeds, *a, **k))
    out = session.run_chunked({"x": x}, chunk=4)["y"]
    np.testing.assert_array_equal(out, 2 * x)
    assert calls == [4, 4, 2]


def test_empty_batch_gets_the_sessions_own_error(session):
    with pytest.raises(InputError, match="is empty"):
        session.run_chunked({"x": np.zeros((0, 3), np.float32)})
