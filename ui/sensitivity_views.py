"""Drawing and caching for the sensitivity page (the numbers come from core.sensitivity)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from functools import cached_property

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import models, shapes
from core import pictures as pic
from core import sensitivity as sen
from core.experiments import positions
from core.images import resize_to
from core.models import total_stride
from ui import bookmarks, charts, compute, present, table_height
from ui.i18n import Message, current, listing, name_of, t, worded, words
from ui.images import image_picker
from ui.models import cached_model, colour_scale

MODEL_CHOICES = list(models.EMBEDDED) + [n for n in models.available() if n.startswith(models.TIMM_PREFIX)]
BACKGROUNDS = list(sen.BACKGROUNDS)
BASE = 64  # object sizes and steps are given on the embedded models' 64-pixel canvas


REGION = "region of an image"  # the shape selectbox's option for a rectangle cut from an image (shown translated)


def shape_label(shape: str) -> str:
    """A shape option as the session's language names it (format_func of the shape selectbox)."""
    return t("sensitivity.region") if shape == REGION else name_of("shape", shape)


def path_label(path: str) -> str:
    return name_of("sensitivity.paths", path)


def background_label(background: str) -> str:
    return name_of("sensitivity.backgrounds", background)


def models_help() -> str:
    """The models widget's help: each embedded model and what it is."""
    return "  \n".join(t("sensitivity.model_line", name=n, description=name_of("model", n)) for n in models.EMBEDDED)


def bookmarked_models(default: list[str]) -> list[str]:
    names = bookmarks.from_url("models", lambda v: [n for n in v.split(",") if n in MODEL_CHOICES], [])
    return names or default


@dataclass(frozen=True, kw_only=True)
class Scene:
    """Everything that fixes a sweep's frames. With shape == REGION the object is the rectangle `region`
    (x, y, w, h in canvas pixels) of `photo`, an image given as a uint8 array resized to the canvas."""
    shape: str
    size: int
    angle: int
    colour: str  # "#rrggbb"
    background: str
    bg_seed: int
    path: str
    step: int
    canvas: int = BASE
    region: tuple[int, int, int, int] | None = None
    photo: bytes | None = None  # uint8 HxWx3 bytes of the canvas-sized image (hashable, small)

    def sprite(self) -> shapes.Sprite:
        if self.shape == REGION:
            img = torch.frombuffer(bytearray(self.photo), dtype=torch.uint8).view(self.canvas, self.canvas, 3)
            return shapes.sprite_from_region(img.permute(2, 0, 1).float() / 255, *self.region)
        rgb = tuple(int(self.colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
        return shapes.make_sprite(self.shape, round(self.size * self.canvas / BASE), self.angle, rgb)

    def background_image(self) -> torch.Tensor:
        return sen.make_background(self.background, (self.canvas, self.canvas), self.bg_seed)

    @cached_property
    def key(self) -> tuple:
        """Every field, the photo named by its contents: the scene's name in ui.charts' inputs (its repr would
        spell out the photo's bytes); worked out once a scene."""
        return tuple(hashlib.blake2b(v, digest_size=16).hexdigest() if f.name == "photo" and v is not None else v
                     for f in fields(self) for v in [getattr(self, f.name)])


DEFAULT_SCENE = Scene(shape="star", size=20, angle=0, colour="#ffd21e", background="noisy gradient", bg_seed=7,
                      path="horizontal", step=1)
# The full-frame models are right everywhere; the centre-trained ones show what position does (the point of the page)
DEFAULT_MODELS = ["cnn", "vit", "cnn-center", "vit-center"]
GRID_STEP = 4  # px: the 2-D grid's default step (144 positions for a 20-px star; 2 px gives 529, and cnn + vit alone
#               then take ~1 s at one thread: bench_sensitivity)


def default_step(path: str) -> int:
    return GRID_STEP if path == "grid" else DEFAULT_SCENE.step


def step_for_path() -> None:
    """on_change of the path: give the step its default for the new kind of path (a keyed slider keeps its value)."""
    st.session_state["step"] = default_step(st.session_state["path"])


def warm_up() -> None:
    """The default view's sweep, computed before the first visitor asks (ui/warmup.py)."""
    cached_sweep(DEFAULT_SCENE, tuple(DEFAULT_MODELS))


def photo_on_canvas(img: torch.Tensor, canvas: int) -> bytes:
    """The picked image squeezed to the square canvas, as hashable uint8 bytes for Scene.photo."""
    return pic.to_uint8(resize_to(img, (canvas, canvas))).tobytes()


def canvas_for(names) -> int:
    """The scene is drawn at the largest input size among the models (each model resizes it to its own)."""
    return max([BASE] + [cached_model(n).input_size[0] for n in names])


def scene_path(scene: Scene) -> sen.Path:
    step = max(1, round(scene.step * scene.canvas / BASE))
    return sen.make_path(scene.path, scene.sprite().shape, (scene.canvas, scene.canvas), step)


def made_path(scene: Scene) -> sen.Path:
    """scene_path(scene), made once per scene for every session (the sprite is drawn to size the path)."""
    return charts.once("sensitivity.path", (scene.key,), lambda: scene_path(scene))


def swept(scene: Scene, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """cached_sweep(scene, names), kept as it is once per (scene, models) for every session (read, never changed): no
    hashing of the scene and no unpickled copy of the probabilities on a run."""
    return charts.kept("sensitivity.sweep", (scene.key, names), lambda: cached_sweep(scene, names))


@st.cache_data(max_entries=32, show_spinner=False)
def cached_sweep(scene: Scene, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Probabilities per model for the whole path; cached so re-selecting a point costs nothing."""
    path = scene_path(scene)
    bar = st.progress(0.0, text=t("sensitivity.progress_start", frames=len(path), models=len(names))) \
        if len(path) * len(names) > 400 else None

    def progress(done, total):
        if bar is not None:
            bar.progress(done / total, text=t("sensitivity.progress", done=done, total=total))

    loaded = {n: cached_model(n) for n in names}
    out = compute.run(sen.sweep, loaded, scene.background_image(), scene.sprite(), path, progress=progress)
    if bar is not None:
        bar.empty()
    return out


def targets(scene: Scene, loaded: dict, result: dict) -> dict[str, int]:
    """Target class per model: the shape's class where the model knows it, else its answer at the middle frame."""
    out = {}
    for name, m in loaded.items():
        if scene.shape in m.class_names:
            out[name] = m.class_names.index(scene.shape)
        else:
            out[name] = int(result[name][len(result[name]) // 2].argmax())
    return out


def _axis(path: sen.Path) -> tuple[str, np.ndarray]:
    return ("y", path.ys) if path.kind == "vertical" else ("x", path.xs)


CSV_COLUMNS = ["index", "x", "y", "model", "target", "p_target", "top1", "p_top1", "correct"]


def long_table(path: sen.Path, result: dict, targets: dict, loaded: dict) -> pd.DataFrame:
    """One row per model and position: CSV_COLUMNS (English identifiers, also in the download) and the class names
    as the session's language shows them (target_shown, top1_shown: the chart's tooltips)."""
    rows = []
    for name, probs in result.items():
        m = loaded[name]
        top1 = probs.argmax(1)
        rows.append(pd.DataFrame({
            "index": np.arange(len(path)), "x": path.xs, "y": path.ys, "model": name,
            "target": m.class_names[targets[name]], "p_target": probs[:, targets[name]],
            "top1": [m.class_names[i] for i in top1], "p_top1": probs.max(1),
            "correct": top1 == targets[name]}))
    table = pd.concat(rows, ignore_index=True)
    shown = {c: name_of("shape", c) for c in {*table["target"], *table["top1"]}}  # each name worded once
    table["target_shown"] = table["target"].map(shown)
    table["top1_shown"] = table["top1"].map(shown)
    return table


def csv_of(table: pd.DataFrame) -> str:
    """The sweep as a data file: English identifiers in every language, so that scripts can read any download."""
    return table[CSV_COLUMNS].to_csv(index=False)


def _tooltip(*fields: str) -> list:
    """Tooltip entries with titles in the session's language."""
    titles = {"model": t("sensitivity.col.model"), "x": "x", "y": "y", "target_shown": t("sensitivity.col.target"),
              "p_target": t("sensitivity.chart.p_target"), "top1_shown": t("sensitivity.col.top1"),
              "p_top1": t("sensitivity.col.p_top1")}
    fmt = {"p_target": ".3f", "p_top1": ".3f"}
    return [alt.Tooltip(f, title=titles[f], **({"format": fmt[f]} if f in fmt else {})) for f in fields]


HEATMAP = 135  # px a side: two heatmaps a row, with their y axis, fit a phone's 358-px column (the legend sits above)


def chart(table: pd.DataFrame, path: sen.Path, loaded: dict, canvas: int, sweep: tuple, key: str):
    """Line chart (or heatmaps for a grid) with a click selection, its spec made once per sweep (`sweep`: the
    scene's key and the models, which fix the table and the canvas); returns the selection event."""
    inputs = (sweep, canvas, path.kind)
    if path.kind == "grid":
        return charts.chart("sensitivity.sweep", inputs, lambda: sweep_chart(table, path, loaded, canvas),
                            on_select="rerun", key=key)
    return charts.chart("sensitivity.sweep", inputs, lambda: sweep_chart(table, path, loaded, canvas),
                        on_select="rerun", key=key, width="stretch")


def sweep_chart(table: pd.DataFrame, path: sen.Path, loaded: dict, canvas: int) -> alt.TopLevelMixin:
    """The sweep as an Altair chart: heatmaps faceted by model for a grid, else lines with the patch and stride
    boundaries; a click selects a position ("pos")."""
    pick = alt.selection_point(name="pos", fields=["index"], on="click", nearest=True, empty=False)
    if path.kind == "grid":
        base = alt.Chart(table).mark_rect().encode(
            x=alt.X("x:O", title=t("sensitivity.chart.x_grid"), axis=alt.Axis(labelOverlap=True, labelAngle=0)),
            y=alt.Y("y:O", title=t("sensitivity.chart.y_grid"), axis=alt.Axis(labelOverlap=True)),
            color=alt.Color("p_target:Q", title=t("sensitivity.chart.p_target"),
                            scale=alt.Scale(domain=[0, 1], scheme="viridis"), legend=alt.Legend(orient="top")),
            stroke=alt.condition(pick, alt.value("red"), alt.value(None)),
            tooltip=_tooltip("model", "x", "y", "target_shown", "p_target", "top1_shown"),
        ).properties(width=HEATMAP * present.scale(), height=HEATMAP * present.scale()).add_params(pick)
        return base.facet(facet=alt.Facet("model:N", title=None, sort=list(loaded)), columns=2)
    axis, pos = _axis(path)
    x_title = t("sensitivity.chart.x_line", axis=axis)
    x = alt.X(f"{axis}:Q", title=x_title,
              scale=alt.Scale(domain=[int(pos.min()), int(pos.max())], nice=False))
    # labelFlush off: Vega would pull the end labels (1.0 and 0.0) inside the axis, off their grid lines
    y = alt.Y("p_target:Q", title=t("sensitivity.chart.y_line"), scale=alt.Scale(domain=[0, 1]),
              axis=alt.Axis(labelFlush=False))
    enc = dict(x=x, y=y,
               color=alt.Color("model:N", title=t("sensitivity.col.model"), legend=alt.Legend(orient="top", title=None),
                               scale=colour_scale(loaded)))
    # The click selection sits on a layer of points of its own: on mark_line(point=...) a click never reaches the
    # app (a browser test clicks a point).
    points = alt.Chart(table).mark_circle(size=30, opacity=1).encode(
        **enc, tooltip=_tooltip("model", axis, "target_shown", "p_target", "top1_shown", "p_top1")).add_params(pick)
    lines = alt.Chart(table).mark_line().encode(**enc) + points
    layers = [lines]
    rules = boundary_rules(path, loaded, canvas)
    if len(rules):
        layers.insert(0, alt.Chart(rules).mark_rule(strokeDash=[4, 4], opacity=0.5).encode(
            x=alt.X("pos:Q", title=x_title), color=alt.value("#888"),
            tooltip=[alt.Tooltip("what:N", title=t("sensitivity.chart.boundary"))]))
    chosen = alt.Chart(table).mark_rule(color="red").encode(x=x).transform_filter(pick)
    return alt.layer(*layers, chosen).properties(height=340)


def boundary_rules(path: sen.Path, loaded: dict, canvas: int) -> pd.DataFrame:
    """Where the object's corner crosses a ViT patch boundary or a CNN's total stride, in canvas pixels."""
    axis, pos = _axis(path)
    rows = []
    for name, m in loaded.items():
        stride = total_stride(m.net)
        if not stride:
            continue
        period = stride * canvas / m.input_size[0]
        what = t("sensitivity.rule.patch" if m.kind == "vit" else "sensitivity.rule.stride", name=name, stride=stride)
        for p in np.arange(0, pos.max() + 1, period):
            if p >= pos.min():
                rows.append({"pos": float(p), "what": what})
    df = pd.DataFrame(rows)
    return df.drop_duplicates("pos") if len(df) else df


def rules_caption(path: sen.Path, loaded: dict, canvas: int) -> str:
    rules = boundary_rules(path, loaded, canvas)
    if path.kind == "grid" or not len(rules):
        return ""
    return t("sensitivity.rules_caption", rules=words(listing(sorted(set(rules["what"])), "semicolon")))


def model_metrics(result: dict, targets: dict, path: sen.Path) -> dict[str, dict]:
    """core.sensitivity.metrics per model, computed once for the table and the reading."""
    return {name: sen.metrics(probs, targets[name], path) for name, probs in result.items()}


def metrics_tables(metrics: dict, targets: dict, loaded: dict, scene: Scene) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The numbers as two narrow tables, each led by the model, so that either fits a phone's width: how often a
    model is right and how sure it is (accuracy, lowest and highest probability of the target), and how steady its
    answer is (consistency, jaggedness, MAC). A target that is not the shape's class says where it comes from."""
    model = t("sensitivity.col.model")
    right, steady = [], []
    for name, m in metrics.items():
        target = name_of("shape", loaded[name].class_names[targets[name]])
        if scene.shape not in loaded[name].class_names:
            target = t("sensitivity.target_middle", name=target)
        right.append({model: name, t("sensitivity.col.target"): target,
                      t("sensitivity.col.accuracy"): round(m["accuracy"], 3),
                      t("sensitivity.col.min_conf"): round(m["min_confidence"], 3),
                      t("sensitivity.col.max_conf"): round(m["max_confidence"], 3)})
        steady.append({model: name, t("sensitivity.col.consistency"): round(m["consistency"], 1),
                       t("sensitivity.col.jaggedness"): round(m["jaggedness"], 3),
                       t("sensitivity.col.mac"): round(m["mac_target"], 3)})
    return pd.DataFrame(right), pd.DataFrame(steady)


def numbers(metrics: dict, targets: dict, loaded: dict, scene: Scene, sweep: tuple) -> None:
    """The two tables of metrics_tables, side by side where there is room (one above the other on a phone), each
    converted once per sweep (`sweep`: the scene's key and the models) and language."""
    for i, column in enumerate(st.columns(2)):
        table = charts.arrow(f"sensitivity.numbers{i}", sweep,
                             lambda i=i: metrics_tables(metrics, targets, loaded, scene)[i])
        column.dataframe(table, hide_index=True, width="stretch", height=table_height(table.num_rows))


def step_caption(path: sen.Path, loaded: dict, canvas: int) -> str:
    """One move of the object in each model's own input pixels (a model resizes the canvas to its input)."""
    axis, pos = _axis(path)
    step = int(np.diff(pos[:2])[0]) if len(pos) > 1 else 1
    sizes = {}
    for name, m in loaded.items():
        sizes.setdefault(step * m.input_size[0] / canvas, []).append(name)
    per_model = listing((Message("sensitivity.step_per_model", {"px": v, "models": listing(names, "and")})
                         for v, names in sizes.items()), "semicolon")
    return t("sensitivity.step_caption", step=step, canvas=canvas, per_model=per_model)


def reading(result: dict, metrics: dict, targets: dict, path: sen.Path) -> list:
    """core.sensitivity.reading's Messages for this sweep (the page words them with ui.i18n.words)."""
    axis, pos = _axis(path)
    rows = []
    for name, probs in result.items():
        m = metrics[name]
        wrong = probs.argmax(1) != targets[name]
        rows.append({"name": name, "jaggedness": m["jaggedness"], "mac_target": m["mac_target"],
                     "positions": len(path), "n_wrong": int(wrong.sum()),
                     "wrong_at": np.sort(pos[wrong]) if path.kind != "grid" else [],
                     "axis": axis if path.kind != "grid" else None, "step": int(np.diff(pos[:2])[0]) if len(pos) > 1 else 1})
    return sen.reading(rows)


def selected_index(event, table: pd.DataFrame, path: sen.Path, result: dict, targets: dict) -> int:
    """The clicked position, or by default the position where any model is least sure of the target."""
    try:
        points = event.selection["pos"]
        if points:
            return int(points[0]["index"])
    except (AttributeError, KeyError, TypeError, IndexError):
        pass
    return int(np.argmin(np.min([p[:, targets[n]] for n, p in result.items()], axis=0)))


def frame_at(scene: Scene, index: int) -> torch.Tensor:
    return sen.frames(scene.background_image(), scene.sprite(), scene_path(scene), index)


def top5_at(result: dict, loaded: dict, index: int) -> pd.DataFrame:
    rows = []
    for name, probs in result.items():
        p = probs[index]
        for rank, c in enumerate(np.argsort(-p)[:5], 1):
            rows.append((name, rank, name_of("shape", loaded[name].class_names[c]), round(float(p[c]), 4)))
    return pd.DataFrame(rows, columns=[t("sensitivity.col.model"), t("sensitivity.col.rank"),
                                       t("sensitivity.col.class"), t("sensitivity.col.probability")])

# --- the page's controls and closing readings ------------------------------------------------------------------------
def scene_controls() -> tuple[dict, list[str], str]:
    """The main controls on the page, where a phone reaches them (the shape, the path, the models), and the finer
    ones in the sidebar (the object's size, rotation and colour, the background, the step, a timm model); each widget
    keyed and bookmarked. Returns the scene's settings (Scene's fields but canvas, region and photo), the models
    picked and the custom model typed."""
    D = DEFAULT_SCENE
    shape_col, path_col, models_col = st.columns([1, 1.6, 2.6])
    shapes_ = shapes.CLASSES + (REGION,)
    shape = shape_col.selectbox(t("sensitivity.shape"), shapes_, index=bookmarks.index_in("shape", shapes_, D.shape),
                                key="shape", format_func=worded(shapes_, shape_label), help=t("sensitivity.shape_help"))
    kind = path_col.radio(t("sensitivity.path"), sen.PATHS, index=bookmarks.index_in("path", sen.PATHS, D.path),
                          horizontal=True, key="path", format_func=worded(sen.PATHS, path_label),
                          on_change=step_for_path)
    chosen = models_col.multiselect(t("sensitivity.compare"), MODEL_CHOICES, default=bookmarked_models(DEFAULT_MODELS),
                                    key="models", help=models_help())
    with st.sidebar:
        st.header(t("sensitivity.object"))
        low, high = shapes.SIZE_RANGE
        if shape != REGION:
            size = st.slider(t("sensitivity.size", canvas=BASE), 8, 40, D.size, key="size",
                             help=t("sensitivity.size_help", low=low, high=high))
            if not low <= size <= high:
                st.warning(t("sensitivity.size_outside", size=size, low=low, high=high))
            angle = st.slider(t("sensitivity.rotation"), 0, 359, D.angle, key="angle")
            colour = st.color_picker(t("sensitivity.colour"), D.colour, key="colour")
        else:
            size, angle, colour = 0, 0, "#000000"
        st.header(t("sensitivity.scene"))
        background = st.selectbox(t("sensitivity.background"), BACKGROUNDS, BACKGROUNDS.index(D.background),
                                  key="bg", format_func=worded(BACKGROUNDS, background_label))
        bg_seed = st.number_input(t("sensitivity.bg_seed"), 0, 10_000, D.bg_seed, key="bg_seed") \
            if background == "noisy gradient" else 0
        step = st.slider(t("sensitivity.step"), 1, 8, default_step(kind), key="step",
                         help=t("sensitivity.step_help", line=D.step, grid=GRID_STEP))
        st.header(t("sensitivity.models"))
        custom = st.text_input(t("sensitivity.custom"), placeholder="timm:resnet18", key="custom")
    bookmarks.keep(shape=shape, path=kind, models=",".join(chosen))
    return (dict(shape=shape, size=size, angle=angle, colour=colour, background=background, bg_seed=int(bg_seed),
                 path=kind, step=step), chosen, custom)


def region_controls(canvas: int) -> tuple[tuple[int, int, int, int], torch.Tensor]:
    """The region-of-an-image controls in the sidebar: (x, y, width, height) of the region, and the photo on the
    canvas (the script stops while no image is picked)."""
    with st.sidebar.expander(t("sensitivity.region_expander"), expanded=True):
        img = image_picker("sens-image", default="cat")
        if img is None:
            st.stop()
        photo = photo_on_canvas(img, canvas)
        a, b, c, d = st.columns(4)
        rw = a.number_input(t("sensitivity.region_width"), 1, canvas, canvas // 3, key="rw")
        rh = b.number_input(t("sensitivity.region_height"), 1, canvas, canvas // 3, key="rh")
        rx = c.number_input(t("sensitivity.region_left"), 0, canvas - 1, canvas // 3, key="rx")
        ry = d.number_input(t("sensitivity.region_top"), 0, canvas - 1, canvas // 3, key="ry")
        region = (int(rx), int(ry), int(rw), int(rh))
        st.caption(t("sensitivity.region_caption", canvas=canvas))
    return region, photo


def shift_readings(loaded: dict) -> None:
    """What the shipped stability measurements say about the picked models: anti-aliasing, shift augmentation;
    read and worded once per version of the results file (path, size, modification time), models and language."""
    path = positions.STABILITY_FILE
    version = charts.version(path)
    if version is None:
        return

    def captions() -> list[str]:
        stability, out = positions.load_stability(path), []
        if stability is None:
            return out
        if {"cnn", "cnn-aa"} & set(loaded):
            out.append(t("sensitivity.anti_aliasing", reading=words(positions.stability_reading(stability))))
        for augmented, plain in models.augmentation_pairs():  # what shift augmentation did, measured the same way
            reading = positions.stability_reading(stability, augmented, plain)
            if reading is not None and {augmented, plain} & set(loaded):
                out.append(t("sensitivity.augmentation", reading=words(reading)))
        return out

    for caption in charts.once("sensitivity.shift_readings", (version, tuple(loaded), current()), captions):
        st.caption(caption)
