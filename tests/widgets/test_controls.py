"""Controls come from the catalog: every service gets a control per parameter, values round-trip."""

from __future__ import annotations

import ipywidgets as w
import pytest

from phaya_notebook import catalog
from phaya_notebook.widgets.controls import ParamControls, model_options


async def _never(data: bytes, name: str) -> str:  # pragma: no cover - not called here
    raise AssertionError("no upload expected")


@pytest.mark.parametrize("name", list(catalog.SERVICES))
def test_every_service_gets_a_control_per_param(name: str) -> None:
    svc = catalog.SERVICES[name]
    c = ParamControls(svc, uploader=_never, spawn=lambda coro: coro.close())
    assert set(c.fields) == {p.name for p in svc.params} - {"prompt"}
    for p in svc.params:
        if p.name == "prompt":
            continue
        widget = c.widget_for(p.name)
        if p.choices is not None:
            assert isinstance(widget, w.Dropdown)
            assert [v for _, v in widget.options if v is not None] == list(p.choices)
        elif p.type == "bool":
            assert isinstance(widget, w.Checkbox) and widget.value == bool(p.default)
        elif p.type in ("int", "float") and p.default is not None and p.maximum is not None:
            assert isinstance(widget, (w.IntSlider, w.FloatSlider))
            assert (widget.min, widget.max, widget.value) == (p.minimum, p.maximum, p.default)
        elif p.type in ("int", "float"):
            assert isinstance(widget, (w.BoundedIntText, w.BoundedFloatText))
            assert c.enable_for(p.name) is not None
        elif p.type == "list":
            assert isinstance(widget, w.Textarea)
        if p.media:
            assert isinstance(c.upload_for(p.name), w.FileUpload)
    # defaults as shown are exactly what the catalog would fill in
    shown = c.params()
    full = {q.name: q.default for q in svc.params if q.default is not None}
    for k, v in shown.items():
        if k in full and not isinstance(v, (dict, list)):
            assert v == full[k], k


def test_values_round_trip_into_a_valid_body() -> None:
    c = ParamControls("nano-banana")
    c.widget_for("resolution").value = "4K"
    c.widget_for("google_search").value = True
    c.widget_for("image_input").value = "http://127.0.0.1/a.png\n\n http://127.0.0.1/b.png \n"
    params = {"prompt": "a cat", **c.params()}
    assert params["image_input"] == ["http://127.0.0.1/a.png", "http://127.0.0.1/b.png"]
    assert catalog.estimate("nano-banana", params).credits == 4.0


def test_optional_numbers_are_sent_only_when_ticked() -> None:
    c = ParamControls("text-to-music")
    assert "style_weight" not in c.params()
    assert "vocal_gender" not in c.params()  # "(default)" leaves it to the server
    c.enable_for("style_weight").value = True
    c.widget_for("style_weight").value = 0.25
    c.widget_for("vocal_gender").value = "f"
    assert c.params()["style_weight"] == 0.25 and c.params()["vocal_gender"] == "f"


def test_object_field_is_omitted_until_enabled() -> None:
    c = ParamControls("image-to-video")
    assert "zoom" not in c.params()
    c.enable_for("zoom").value = True
    c.widget_for("zoom.mode").value = "pan_left"
    zoom = c.params()["zoom"]
    assert zoom["mode"] == "pan_left" and zoom["max_scale"] == 1.5 and zoom["speed"] == 0.0015
    c.widget_for("image_url").value = "http://x/y.png"
    assert catalog.validate("image-to-video", c.params())["zoom"]["mode"] == "pan_left"


def test_missing_required_field_is_named() -> None:
    c = ParamControls("image-to-video")
    with pytest.raises(catalog.ParamError) as err:
        catalog.estimate("image-to-video", c.params())
    assert err.value.field == "image_url"


def test_on_change_fires_for_every_kind_of_control() -> None:
    c = ParamControls("seedance-video")
    seen: list[object] = []
    c.on_change(seen.append)
    c.widget_for("resolution").value = "1080p"
    c.widget_for("generate_audio").value = True
    c.widget_for("input_urls").value = "http://x/1.png"
    assert len(seen) == 3
    assert catalog.estimate("seedance-video", {"prompt": "abc", **c.params()}).credits == 23


def test_model_picker_is_grouped_by_media_with_prices() -> None:
    opts = model_options()
    assert {v for _, v in opts} == set(catalog.SERVICES)
    kinds = [catalog.SERVICES[v].media for _, v in opts]
    assert kinds == sorted(kinds, key=kinds.index)  # each media type appears as one run
    assert len({k for k in kinds}) == len([k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k])
    label = dict((v, lab) for lab, v in opts)
    assert label["veo31-video"].endswith("15 cr") and label["text-to-image"].endswith("1 cr")
    assert label["text-to-image"].startswith("IMAGE")
