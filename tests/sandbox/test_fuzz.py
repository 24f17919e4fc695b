"""Hypothesis throws arbitrary and almost-valid bodies at every endpoint: never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phaya_notebook import catalog

from .helpers import client

PATHS = [s.create_path for s in list(catalog.SERVICES.values()) + list(catalog.MEDIA_JOBS.values())]
PATHS += ["/phaya-gpt/chat/completions", "/embedding/create"]
OK = {200, 402, 422}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


def near_valid(svc: catalog.Service) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies built from the service's own fields, each value valid-ish or garbage; [stuck] keeps jobs idle."""
    def value(p: catalog.Param) -> st.SearchStrategy[Any]:
        good: st.SearchStrategy[Any]
        if p.choices is not None:
            good = st.sampled_from(p.choices)
        elif p.type == "bool":
            good = st.booleans()
        elif p.type in ("int", "float"):
            good = st.floats(min_value=p.minimum or -1e6, max_value=p.maximum or 1e6).map(
                lambda x: round(x) if p.type == "int" else x)
        elif p.type == "list":
            good = st.lists(st.just("https://x/y.png [stuck]"), min_size=p.min_items or 0, max_size=(p.max_items or 3))
        elif p.type == "object":
            good = st.fixed_dictionaries({}, optional={f.name: value(f) for f in p.fields})
        else:
            good = st.text(min_size=1, max_size=40).map(lambda t: t + " [stuck]")
        return good | json_values

    return st.fixed_dictionaries({}, optional={p.name: value(p) for p in svc.params})


SERVICES = list(catalog.SERVICES.values()) + list(catalog.MEDIA_JOBS.values())


@pytest.fixture(scope="module")
def fuzz_client(busy_sandbox: Any) -> Any:
    with client(busy_sandbox) as c:
        yield c


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(PATHS), body=json_values)
def test_any_json_body_never_breaks_the_server(fuzz_client: httpx.Client, path: str, body: Any) -> None:
    r = fuzz_client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code in OK, (path, body, r.status_code, r.text[:300])
    if r.status_code == 422:
        assert all(d["loc"][0] == "body" for d in r.json()["detail"])


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), svc=st.sampled_from(SERVICES))
def test_almost_valid_bodies_are_accepted_or_named(fuzz_client: httpx.Client, data: st.DataObject,
                                                   svc: catalog.Service) -> None:
    body = data.draw(near_valid(svc))
    r = fuzz_client.post(svc.create_path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code in OK, (svc.name, body, r.status_code, r.text[:300])
    try:
        catalog.validate(svc, body)
        valid = True
    except catalog.ParamError:
        valid = False
    assert (r.status_code == 200) == valid, (svc.name, body, r.text[:300])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(max_size=200), path=st.sampled_from(PATHS + ["/media/upload"]))
def test_raw_bytes_never_break_the_server(fuzz_client: httpx.Client, raw: bytes, path: str) -> None:
    r = fuzz_client.post(path, content=raw, headers={"content-type": "application/json"})
    assert r.status_code in OK, (path, raw, r.status_code)
