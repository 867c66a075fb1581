"""Model picker and the cached loader shared by every page."""
from __future__ import annotations

import altair as alt
import streamlit as st

from ui import compute  # noqa: F401, I001  (configures torch before its first use)

from core import models, shapes
from ui import bookmarks
from ui.i18n import name_of, t, worded, words

OTHER = "timm: other…"  # the picker's option for any timm name


def label(name: str) -> str:
    """What a picker shows for a model: an embedded model's name and what it is, in the session's language."""
    if name == OTHER:
        return t("picker.timm_other")
    return f"{name}: {name_of('model', name)}" if name in models.EMBEDDED else name


def colours(names) -> dict[str, str]:
    """Each model's colour: an embedded model's own (the same on every chart), others from a spare list."""
    spare = iter(models.OTHER_COLOURS * (1 + len(names) // len(models.OTHER_COLOURS)))
    return {n: models.EMBEDDED[n].colour if n in models.EMBEDDED else next(spare) for n in names}


def colour_scale(names) -> alt.Scale:
    c = colours(list(names))
    return alt.Scale(domain=list(c), range=list(c.values()))


OTHER_CLASS = "#bbbbbb"  # a class that core.shapes has no colour for (a timm model's)


def class_colour_scale(classes) -> alt.Scale:
    """A colour scale over `classes` (English identifiers) for a chart whose field holds their names as the session
    shows them (name_of): each class of core.shapes its one colour (shapes.CLASS_COLOURS) in every language, in
    shapes' order, any other class grey."""
    known = [c for c in shapes.ALL_SHAPES if c in set(classes)]
    ordered = known + sorted(set(classes) - set(known))
    return alt.Scale(domain=[name_of("shape", c) for c in ordered],
                     range=[shapes.CLASS_COLOURS.get(c, OTHER_CLASS) for c in ordered])


@st.cache_resource
def _model_cache() -> models.ModelCache:
    return models.ModelCache()  # bounded by bytes (IBL_MODEL_CACHE_MB), shared by every session


def cached_model(name: str) -> models.LoadedModel:
    """One shared instance per model for all sessions (read-only use: eval mode, no hooks)."""
    cache = _model_cache()
    if name in cache.names():
        return cache.get(name)
    with st.spinner(t("picker.loading", name=name)):
        return cache.get(name)


def try_load(name: str) -> models.LoadedModel | None:
    """Load `name`, or show why not (and what to use instead) and return None."""
    try:
        return cached_model(name)
    except models.ModelError as e:
        st.error(t("picker.cannot_load_timm" if name.startswith(models.TIMM_PREFIX) else "picker.cannot_load",
                   name=name, error=words(e)))
        return None


def model_picker(label_text: str | None = None, kinds=("cnn", "vit"), default: str = "vit", key: str = "model",
                 allow_custom: bool = True) -> models.LoadedModel | None:
    """A selectbox over the embedded models (of `kinds`) and suggested timm models, plus any timm name."""
    embedded = [n for n, spec in models.EMBEDDED.items() if spec.kind in kinds]
    options = embedded + [n for n in models.available() if n.startswith(models.TIMM_PREFIX)]
    if allow_custom:
        options.append(OTHER)
    name = st.selectbox(label_text or t("picker.model"), options, index=bookmarks.index_in(key, options, default), key=key,
                        format_func=worded(options, label))
    if name == OTHER:
        custom = st.text_input(t("picker.timm_name"), placeholder=t("picker.timm_placeholder"), key=f"{key}-custom")
        if not custom:
            return None
        name = models.TIMM_PREFIX + custom.strip().removeprefix(models.TIMM_PREFIX)
    else:
        bookmarks.keep(**{key: name})
    return try_load(name)
