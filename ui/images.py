"""The image picker shared by the pages: built-in samples (bookmarkable), upload and camera."""
from __future__ import annotations

import numpy as np
import streamlit as st

from ui import compute  # noqa: F401, I001  (configures torch before its first use)
import torch

from core import images
from core.messages import Message
from ui import bookmarks, charts
from ui.i18n import name_of, t, worded, words

UPLOAD = "upload"  # the picker's two options besides the samples
CAMERA = "camera"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
MAX_SIDE = 512  # larger images are downscaled for display and compute


@st.cache_data(max_entries=16, show_spinner=False)
def _decode(data: bytes) -> tuple[torch.Tensor | None, tuple[int, int] | None, Message | None]:
    """(image, original (W, H), None) or (None, None, error message). Errors are cached too, so a
    hostile file is not decoded again on every rerun."""
    try:
        decoded = images.decode_image(data, max_side=MAX_SIDE)
    except images.ImageError as e:
        return None, None, e.message
    return decoded.image, decoded.original_size, None


# one tensor per sample for every session, never changed in place (st.cache_data would unpickle a copy every run:
# 1.6 MB for the cat)
@st.cache_resource(max_entries=16, show_spinner=False)
def _sample(name: str) -> tuple[torch.Tensor, tuple[int, int]]:
    img = images.load_sample(name)
    return images.fit_within(img, MAX_SIDE), (img.shape[-1], img.shape[-2])


def picked_key(choice: str | None, img: np.ndarray) -> str:
    """The picked image's name in ui.charts' inputs: a built-in sample's own name (the same pixels for everyone),
    else an upload's or a photo's contents (a digest: milliseconds for a 512-px image, so made once a run)."""
    return f"sample:{choice}" if choice in images.sample_names() else charts.digest(img)


def sample(name: str) -> torch.Tensor:
    """A built-in sample as the pickers return it (cached, downscaled to MAX_SIDE)."""
    return _sample(name)[0]


def _downscale_caption(original: tuple[int, int], img: torch.Tensor) -> None:
    w, h = original
    if (img.shape[-1], img.shape[-2]) != (w, h):
        st.caption(t("picker.downscaled", width=w, height=h, new_width=img.shape[-1], new_height=img.shape[-2]))


def option_label(option: str) -> str:
    """A picker option in the session's language (the options themselves stay English: they are bookmarked)."""
    if option in (UPLOAD, CAMERA):
        return t("picker.upload" if option == UPLOAD else "picker.camera")
    return name_of("sample", option)


def image_picker(key: str, default: str = "white square", label: str | None = None) -> torch.Tensor | None:
    """A selectbox of built-in samples plus upload and camera. Returns a float RGB tensor [3, H, W] in
    [0, 1], or None (nothing chosen yet, or a bad file: the reason is shown with st.error)."""
    options = images.sample_names() + [UPLOAD, CAMERA]
    choice = st.selectbox(label or t("picker.image"), options, index=bookmarks.index_in(key, options, default),
                          key=key, format_func=worded(options, option_label))
    if choice in (UPLOAD, CAMERA):
        if key in st.query_params:
            del st.query_params[key]  # an upload cannot be bookmarked
        return _from_user(key, choice)
    bookmarks.keep(**{key: choice})
    try:
        img, original = _sample(choice)
    except images.ImageError as e:
        st.error(words(e))
        return None
    _downscale_caption(original, img)
    return img


def _from_user(key: str, choice: str) -> torch.Tensor | None:
    if choice == UPLOAD:
        file = st.file_uploader(t("picker.upload_label", types=", ".join(x.upper() for x in UPLOAD_TYPES[:-1])),
                                type=UPLOAD_TYPES, key=f"{key}-upload")
    else:
        file = st.camera_input(t("picker.camera_label"), key=f"{key}-camera")
    if file is None:
        st.info(t("picker.upload_prompt" if choice == UPLOAD else "picker.camera_prompt"))
        return None
    img, original, error = _decode(file.getvalue())
    if error is not None:
        st.error(t("picker.cannot_use", name=file.name, error=error))
        return None
    _downscale_caption(original, img)
    return img
