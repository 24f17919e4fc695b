"""Parameter controls generated from the catalog, and the model picker.

Nothing here knows a service by name: every control comes from a ``catalog.Param`` —
Dropdown for choices, Checkbox for booleans, sliders for bounded numbers with a default,
an opt-in bounded box for optional numbers, Text/Textarea for text, one URL per line for
lists, and a FileUpload that sends a local file through the client's ``upload()`` for
fields that take media.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as w

from .. import catalog
from ..catalog import Param, Service
from ..display import esc as _e

__all__ = ["MEDIA_ORDER", "SEED_PARAMS", "ParamControls", "model_options", "price_label"]

Uploader = Callable[[bytes, str], Awaitable[str]]
Spawner = Callable[[Any], Any]

#: Group order of the model picker.
MEDIA_ORDER = ("image", "video", "audio", "speech", "character", "download", "text", "file")
_UNSET = object()
#: Parameter names that seed a model's randomness (the studio varies them across takes).
SEED_PARAMS = ("seed", "seeds")
_DEFAULT = "(default)"


def price_label(svc: Service) -> str:
    """The price at the service's defaults: "1 cr", "~0.17 cr" when it depends on the media."""
    defaults = {p.name: p.default for p in svc.params if p.default is not None}
    est = svc.price(defaults, {})
    return f"{'' if est.exact else '~'}{est.credits:g} cr"


def model_options(services: dict[str, Service] | None = None) -> list[tuple[str, str]]:
    """(label, service name) grouped by media type, each label with its price."""
    svcs = list((services or catalog.SERVICES).values())
    rank = {m: i for i, m in enumerate(MEDIA_ORDER)}
    svcs.sort(key=lambda s: rank.get(s.media, len(rank)))
    return [(f"{s.media.upper()} · {s.label} ({s.name}) — {price_label(s)}", s.name) for s in svcs]


def _layout(width: str = "100%") -> w.Layout:
    return w.Layout(width=width)


class _Field:
    """One Param's widget and how to read it back (``_UNSET`` = leave it to the server)."""

    def __init__(self, param: Param, uploader: Uploader | None, spawn: Spawner | None, prefix: str = ""):
        self.param = param
        self.name = prefix + param.name
        self.uploader, self.spawn = uploader, spawn
        self.enable: w.Checkbox | None = None
        self.upload: w.FileUpload | None = None
        self.upload_status = w.HTML("")
        self.children: list[_Field] = []
        self.value_widget = self._build()
        self.widget = self._wrap()

    # -- building
    def _desc(self) -> str:
        return self.param.name + (" *" if self.param.required else "")

    def _build(self) -> w.Widget:
        p = self.param
        style = {"description_width": "140px"}
        tip = (p.help + " — " if p.help else "") + "allowed: " + p.allowed()
        if p.choices is not None:
            opts: list[tuple[str, Any]] = [(str(c), c) for c in p.choices]
            if p.default is None:
                opts.insert(0, (_DEFAULT, None))
            value = p.default if p.default is not None else None
            return w.Dropdown(options=opts, value=value, description=self._desc(), description_tooltip=tip,
                              style=style, layout=_layout("420px"))
        if p.type == "bool":
            return w.Checkbox(value=bool(p.default), description=p.name, description_tooltip=tip, indent=False)
        if p.type in ("int", "float"):
            return self._number(style, tip)
        if p.type == "list":
            hint = "one URL per line" if p.media else "one per line"
            ta = w.Textarea(value="", placeholder=f"{hint} — {p.allowed()}", description=self._desc(),
                            description_tooltip=tip, style=style, layout=_layout("560px"))
            self._add_upload(multiple=(p.max_items or 2) > 1)
            return ta
        if p.type == "object":
            self.children = [_Field(f, self.uploader, self.spawn, prefix=f"{self.name}.") for f in p.fields]
            self.enable = w.Checkbox(value=False, description=f"{p.name} (off: {p.help or 'omit'})", indent=False)
            return w.VBox([c.widget for c in self.children])
        long = (p.max_length or 0) > 300
        cls = w.Textarea if long else w.Text
        box = cls(value=p.default or "", placeholder=(p.help or p.allowed()), description=self._desc(),
                  description_tooltip=tip, style=style, layout=_layout("560px"))
        if p.media:
            self._add_upload(multiple=False)
        return box

    def _number(self, style: dict[str, str], tip: str) -> w.Widget:
        p = self.param
        is_int = p.type == "int"
        lo = p.minimum if p.minimum is not None else (-1e9 if not is_int else -(10**9))
        hi = p.maximum if p.maximum is not None else (1e9 if not is_int else 10**9)
        if p.default is not None and p.minimum is not None and p.maximum is not None:
            if is_int:
                return w.IntSlider(value=int(p.default), min=int(lo), max=int(hi), description=self._desc(),
                                   description_tooltip=tip, style=style, layout=_layout("420px"),
                                   continuous_update=False)
            text = f"{float(p.default):g}"
            # a step the default lies on, so showing the slider never changes the value
            step = 10.0 ** -len(text.split(".")[1]) if "." in text else (float(hi) - float(lo)) / 100
            return w.FloatSlider(value=float(p.default), min=float(lo), max=float(hi), step=step,
                                 readout_format=".4g", description=self._desc(), description_tooltip=tip,
                                 style=style, layout=_layout("420px"), continuous_update=False)
        # optional number without a default: off unless ticked, so nothing is sent by accident
        self.enable = w.Checkbox(value=p.default is not None, indent=False, layout=_layout("28px"),
                                 description_tooltip=f"send {p.name}")
        start = p.default if p.default is not None else lo
        cls = w.BoundedIntText if is_int else w.BoundedFloatText
        kw: dict[str, Any] = {} if is_int else {"step": 0.01}
        return cls(value=start, min=lo, max=hi, description=self._desc(), description_tooltip=tip,
                   style=style, layout=_layout("380px"), **kw)

    def _add_upload(self, multiple: bool) -> None:
        if not self.param.media or self.uploader is None:
            return
        accept = {"image": "image/*", "video": "video/*", "audio": "audio/*"}.get(self.param.media, "")
        self.upload = w.FileUpload(accept=accept, multiple=multiple, description=f"Upload {self.param.media}",
                                   layout=_layout("auto"))
        self.upload.observe(self._on_upload, names="value")

    def _wrap(self) -> w.Widget:
        parts: list[w.Widget] = []
        if self.enable is not None:
            parts.append(self.enable)
        parts.append(self.value_widget)
        if self.upload is not None:
            parts += [self.upload, self.upload_status]
        if self.param.type == "object":
            return w.VBox(parts)
        return w.HBox(parts) if len(parts) > 1 else parts[0]

    # -- uploads
    def _on_upload(self, change: dict[str, Any]) -> None:
        files = list(change["new"] or ())
        if not files or self.uploader is None or self.spawn is None:
            return
        self.spawn(self._upload(files))

    async def _upload(self, files: list[dict[str, Any]]) -> None:
        assert self.uploader is not None
        self.upload_status.value = f"uploading {len(files)} file(s)…"
        urls = []
        try:
            for f in files:
                urls.append(await self.uploader(bytes(f["content"]), str(f["name"])))
        except Exception as exc:
            self.upload_status.value = f'<span style="color:#b00">upload failed: {_e(exc)}</span>'
            raise
        if self.param.type == "list":
            lines = [ln for ln in self.value_widget.value.splitlines() if ln.strip()]
            self.value_widget.value = "\n".join(lines + urls)
        else:
            self.value_widget.value = urls[-1]
        self.upload_status.value = f"uploaded {len(urls)} file(s)"

    # -- reading
    def get(self) -> Any:
        p = self.param
        if self.enable is not None and not self.enable.value:
            return _UNSET
        if p.type == "object":
            out = {c.param.name: c.get() for c in self.children}
            return {k: v for k, v in out.items() if v is not _UNSET}
        v = self.value_widget.value
        if p.choices is not None:
            return _UNSET if v is None else v
        if p.type == "list":
            items = [ln.strip() for ln in str(v).splitlines() if ln.strip()]
            return items if items or p.required else _UNSET
        if p.type == "str":
            return v if (v != "" or p.required) else _UNSET
        return v

    # -- writing (remix: a past job's parameters back into the controls)
    def set(self, value: Any) -> None:
        """Show ``value`` (a logged request's value); ``_UNSET`` turns an optional field off."""
        p = self.param
        if value is _UNSET or value is None:
            if self.enable is not None:
                self.enable.value = False
            elif p.choices is not None and p.default is None:
                self.value_widget.value = None
            return
        if self.enable is not None:
            self.enable.value = True
        if p.type == "object":
            for c in self.children:
                c.set(value.get(c.param.name, _UNSET) if isinstance(value, dict) else _UNSET)
            return
        widget = self.value_widget
        if p.type == "list":
            widget.value = "\n".join(str(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
        elif p.choices is not None:
            if value in p.choices:
                widget.value = value
        elif p.type == "bool":
            widget.value = bool(value)
        elif p.type in ("int", "float"):
            widget.value = int(value) if p.type == "int" else float(value)
        else:
            widget.value = str(value)

    def observe(self, fn: Callable[[Any], None]) -> None:
        self.value_widget.observe(fn, names="value")
        if self.enable is not None:
            self.enable.observe(fn, names="value")
        for c in self.children:
            c.observe(fn)


class ParamControls(w.VBox):
    """The controls of one service, minus the fields the caller shows itself (the prompt)."""

    def __init__(self, service: str | Service, *, uploader: Uploader | None = None,
                 spawn: Spawner | None = None, skip: tuple[str, ...] = ("prompt",)):
        self.service = service if isinstance(service, Service) else catalog.resolve_service(service)
        self.fields: dict[str, _Field] = {
            p.name: _Field(p, uploader, spawn) for p in self.service.params if p.name not in skip
        }
        super().__init__([f.widget for f in self.fields.values()])
        self.add_class("phaya-controls")
        for name in SEED_PARAMS:
            if name in self.fields:
                self.fields[name].widget.add_class("phaya-seed")

    @property
    def seed_param(self) -> Param | None:
        """The model's seed field (Veo's ``seeds``), if it has one."""
        return next((f.param for n, f in self.fields.items() if n in SEED_PARAMS), None)

    def load(self, params: dict[str, Any]) -> None:
        """Set every control from a request's params (fields it lacks go back to off/default)."""
        for name, f in self.fields.items():
            if name in params:
                f.set(params[name])
            elif f.enable is not None or (f.param.choices is not None and f.param.default is None):
                f.set(_UNSET)
            elif f.param.default is not None:
                f.set(f.param.default)

    def params(self) -> dict[str, Any]:
        """What the user set, as catalog params (unset optional fields are left out)."""
        out = {}
        for name, f in self.fields.items():
            v = f.get()
            if v is not _UNSET:
                out[name] = v
        return out

    def widget_for(self, name: str) -> w.Widget:
        """The value widget of a field (``zoom.speed`` for nested fields)."""
        head, _, rest = name.partition(".")
        f = self.fields[head]
        for part in rest.split(".") if rest else []:
            f = next(c for c in f.children if c.param.name == part)
        return f.value_widget

    def enable_for(self, name: str) -> w.Checkbox | None:
        return self.fields[name].enable

    def upload_for(self, name: str) -> w.FileUpload | None:
        return self.fields[name].upload

    def on_change(self, fn: Callable[[Any], None]) -> None:
        for f in self.fields.values():
            f.observe(fn)
