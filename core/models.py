"""One loader for the embedded models (trained here, shipped in core/weights) and any timm model.

Both kinds are timm modules, so every page serves them through the same code path.
"""
from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from core.architectures import ARCHITECTURES, load_timm
from core.card import MODEL_CARD, WEIGHTS_DIR, model_card  # noqa: F401  (part of this module's API)
from core.messages import Explained
from core.pictures import denormalize
from core.shapes import CLASSES

# timm, safetensors and huggingface_hub are imported inside the functions that use them: importing timm costs
# seconds, and the pages that only list models or read the model card never need it.

TIMM_PREFIX = "timm:"
# timm models offered in the picker; any other timm name works through load_model too.
TIMM_SUGGESTED = ("vit_tiny_patch16_224", "deit_tiny_patch16_224", "deit_tiny_distilled_patch16_224", "resnet18")

@dataclass(frozen=True)
class EmbeddedSpec:
    """Everything about one embedded model, in one place: the loader, the training script (its recipe is
    core.train.RECIPES[arch]), the charts' palette read it from here; what the pickers say about it is in the
    language catalogues (locales/*/app.toml: model.<name>)."""
    arch: str  # a name of core.architectures.ARCHITECTURES
    region: str  # where its training objects were: "full" frame or "center"
    colour: str  # its colour on every chart of every page
    # (N, augment px) of the data-hunger grid's seed-0 run whose checkpoint these weights are (shipped by
    # `python -m core.experiments ship`); None: trained by core.train on its 60,000 images
    cell: tuple[int, int] | None = None

    @property
    def kind(self) -> str:
        return "vit" if self.arch == "vit" else "cnn"


EMBEDDED = {
    "cnn": EmbeddedSpec("resnet", "full", "#1f77b4"),
    "cnn-aa": EmbeddedSpec("resnet-aa", "full", "#2ca02c"),
    "vit": EmbeddedSpec("vit", "full", "#d62728"),
    "cnn-center": EmbeddedSpec("resnet", "center", "#9467bd"),
    "vit-center": EmbeddedSpec("vit", "center", "#ff7f0e"),
    # two small-data runs of the data-hunger grid (N = 2,000): the same ViT after 2k images, without and with
    # shift augmentation
    "vit-2k": EmbeddedSpec("vit", "full", "#e7969c", cell=(2_000, 0)),
    "vit-aug-2k": EmbeddedSpec("vit", "full", "#843c39", cell=(2_000, 8)),
}


def augmentation_pairs() -> list[tuple[str, str]]:
    """(with shift augmentation, without) pairs of embedded grid checkpoints: one architecture, one N."""
    grid = {(s.kind, s.cell[0], s.cell[1]): n for n, s in EMBEDDED.items() if s.cell is not None}
    return [(name, grid[(kind, n, 0)]) for (kind, n, aug), name in grid.items() if aug and (kind, n, 0) in grid]


# colours of other models (timm), in order of appearance: none of the embedded models' colours
OTHER_COLOURS = ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
EMBEDDED_MEAN = (0.5, 0.5, 0.5)
EMBEDDED_STD = (0.5, 0.5, 0.5)


class ModelError(Explained, RuntimeError):
    """A model cannot be had; the message (locales: error.model.*) says why, fit to show a user."""


class UnknownModelError(ModelError, KeyError):
    def __str__(self):  # KeyError would quote the message
        return self.args[0]


class WeightsUnavailableError(ModelError):
    pass


class ModelTooLargeError(ModelError):
    pass


DEFAULT_MAX_PARAMS = 100_000_000  # a ViT-Base has 86 M; a shared 1-2.7 GB server cannot hold many larger ones


def max_params() -> int:
    """The cap on a timm model's parameters: IBL_MAX_PARAMS (raise it on your own machine), default 100 M."""
    try:
        return int(float(os.environ.get("IBL_MAX_PARAMS", DEFAULT_MAX_PARAMS)))
    except ValueError:
        return DEFAULT_MAX_PARAMS


def count_parameters(arch: str) -> int | None:
    """Parameters of timm model `arch`, counted on the meta device: no memory is allocated and no weights are
    read or downloaded (0.3 s for a 1-billion-parameter ViT). None if the model cannot be built there."""
    timm = load_timm()

    try:
        with torch.device("meta"):
            net = timm.create_model(arch, pretrained=False)
    except Exception:  # a model whose constructor computes with real tensors: it cannot be sized in advance
        return None
    return sum(p.numel() for p in net.parameters())


def _millions(n: int) -> str:
    return f"{n / 1e6:,.0f} M" if n >= 100e6 else f"{n / 1e6:.3g} M"


def check_size(arch: str) -> None:
    """ModelTooLargeError, naming the count and the cap, if timm model `arch` is over `max_params()`."""
    n, cap = count_parameters(arch), max_params()
    if n is not None and n > cap:
        raise ModelTooLargeError("error.model.too_large", arch=arch, parameters=_millions(n), cap=_millions(cap))


def build_embedded(arch: str, num_classes: int = 10) -> torch.nn.Module:
    """The embedded architecture `arch` (core.architectures), freshly initialised."""
    if arch not in ARCHITECTURES:
        raise UnknownModelError("error.model.unknown_arch", arch=arch)
    return ARCHITECTURES[arch](num_classes)


def initialisation(arch: str, torch_seed: int, num_classes: int = 10) -> torch.nn.Module:
    """The network a training run of `arch` started from: built right after torch.manual_seed(torch_seed), as
    core.train and the experiments build it (the global generator is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed)
        return build_embedded(arch, num_classes)


@dataclass
class LoadedModel:
    name: str
    net: torch.nn.Module
    kind: str  # "cnn" | "vit"
    input_size: tuple[int, int]
    class_names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_pct: float = 1.0
    pretrained: bool = True
    info: dict = field(default_factory=dict)

    def preprocess(self, img: torch.Tensor) -> torch.Tensor:
        """[3,H,W] or [B,3,H,W] floats in [0,1] -> normalised batch at the model's input size.

        Resizes the shorter side to input/crop_pct and centre-crops, as timm's eval transform does.
        """
        x = img.unsqueeze(0) if img.dim() == 3 else img
        x = x.float()
        th, tw = self.input_size
        if x.shape[-2:] != (th, tw):
            scale = max(th, tw) / self.crop_pct / min(x.shape[-2:])
            nh, nw = max(th, round(x.shape[-2] * scale)), max(tw, round(x.shape[-1] * scale))
            x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
            top, left = (nh - th) // 2, (nw - tw) // 2
            x = x[..., top:top + th, left:left + tw]
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return (x - mean) / std

    def seen(self, img: torch.Tensor) -> torch.Tensor:
        """[3,H,W] in [0,1] -> the image as the model sees it (resized and cropped as `preprocess` does), in [0,1]:
        what its maps are drawn over."""
        return denormalize(self.preprocess(img), self.mean, self.std)[0]

    @torch.inference_mode()
    def predict(self, img: torch.Tensor) -> torch.Tensor:
        """Class probabilities [B, num_classes]."""
        return self.net(self.preprocess(img)).softmax(-1)


def model_bytes(model: LoadedModel) -> int:
    """Bytes held by a loaded model's weights and buffers."""
    tensors = list(model.net.parameters()) + list(model.net.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


DEFAULT_CACHE_MB = 400  # one ViT-Base (344 MB) fits in a 1 GB container; the five embedded models take ~7 MB


class ModelCache:
    """Loaded models shared by every session, bounded by the bytes of their weights (IBL_MODEL_CACHE_MB): a new
    model evicts the least recently used ones until the total fits. The newest model always stays, so a
    model larger than the budget still loads (the parameter cap keeps that bounded). Thread-safe."""

    def __init__(self, max_bytes: int | None = None, load=None):
        if max_bytes is None:
            try:
                max_bytes = int(float(os.environ.get("IBL_MODEL_CACHE_MB", DEFAULT_CACHE_MB)) * 2 ** 20)
            except ValueError:
                max_bytes = DEFAULT_CACHE_MB * 2 ** 20
        self.max_bytes = max_bytes
        self._load = load or load_model
        self._models: dict[str, tuple[LoadedModel, int]] = {}  # insertion order = least recently used first
        self._lock = threading.Lock()

    def get(self, name: str) -> LoadedModel:
        with self._lock:
            if name in self._models:
                self._models[name] = self._models.pop(name)  # now the most recently used
                return self._models[name][0]
        model = self._load(name)  # outside the lock: one slow load does not hold up the cached ones
        with self._lock:
            if name not in self._models:
                self._models[name] = (model, model_bytes(model))
                while self.total_bytes() > self.max_bytes and len(self._models) > 1:
                    self._models.pop(next(iter(self._models)))
            return self._models[name][0]

    def total_bytes(self) -> int:
        return sum(b for _, b in self._models.values())

    def names(self) -> list[str]:
        """Cached models, least recently used first."""
        with self._lock:
            return list(self._models)


def available() -> list[str]:
    return list(EMBEDDED) + [TIMM_PREFIX + n for n in TIMM_SUGGESTED]


def kind_of(net: torch.nn.Module) -> str:
    load_timm()
    from timm.models.vision_transformer import VisionTransformer
    return "vit" if isinstance(net, VisionTransformer) else "cnn"


def load_model(name: str, weights: str | os.PathLike | None = None, pretrained: bool = True) -> LoadedModel:
    """Load an embedded model ("cnn", "vit", ...) or a timm model ("timm:<name>").

    `weights` points a timm model at a local .safetensors/.pth file; `pretrained=False` builds any model,
    embedded or timm, with random weights (seeded: for tests and benchmarks, which need no weights file).
    Raises ModelError subclasses, never hangs.
    """
    if not isinstance(name, str) or not name:
        raise UnknownModelError("error.model.no_name")
    if name.startswith(TIMM_PREFIX):
        return _load_timm(name[len(TIMM_PREFIX):], weights, pretrained)
    if name not in EMBEDDED:
        raise UnknownModelError("error.model.unknown", name=name, choices=", ".join(EMBEDDED))
    return _load_embedded(name) if pretrained else _random_embedded(name)


def _random_embedded(name: str) -> LoadedModel:
    """Embedded model `name`'s architecture with seeded random weights, served like the real one."""
    torch.manual_seed(0)
    net = build_embedded(EMBEDDED[name].arch, len(CLASSES)).eval()
    return LoadedModel(name, net, kind_of(net), (64, 64), list(CLASSES), EMBEDDED_MEAN, EMBEDDED_STD,
                       pretrained=False)


def _load_embedded(name: str) -> LoadedModel:
    from safetensors.torch import load_file

    path = WEIGHTS_DIR / f"{name}.safetensors"
    card = model_card()["models"].get(name)
    if not path.exists() or card is None:
        raise WeightsUnavailableError("error.model.grid_missing" if EMBEDDED[name].cell else
                                      "error.model.embedded_missing", name=name, file=path.name)
    arch = EMBEDDED[name].arch
    net = build_embedded(arch, len(card["classes"]))
    try:
        net.load_state_dict(load_file(path))
    except Exception as e:  # a file from another version of the architecture, or a corrupt one (SafetensorError)
        raise WeightsUnavailableError("error.model.grid_missing" if EMBEDDED[name].cell else
                                      "error.model.embedded_mismatch", name=name, file=path.name) from e
    net.eval()
    return LoadedModel(name, net, kind_of(net), (64, 64), list(card["classes"]), EMBEDDED_MEAN, EMBEDDED_STD,
                       info=card)


def _hub_reachable(host: str = "huggingface.co", timeout: float = 1.5) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _cached_hub_file(hub_id: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "open_clip_model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(hub_id, filename)
        if isinstance(path, str):
            return path
    return None


def _load_timm(arch: str, weights, pretrained: bool) -> LoadedModel:
    timm = load_timm()
    from timm.data import ImageNetInfo, resolve_data_config

    if not timm.is_model(arch):
        raise UnknownModelError("error.model.no_timm_model", arch=arch)
    check_size(arch)  # before any weights are built, read or downloaded
    overlay = {}
    if weights is not None:
        if not Path(weights).is_file():
            raise WeightsUnavailableError("error.model.no_weights_file", path=weights)
        overlay = {"file": str(weights)}
    elif pretrained:
        cfg = timm.models.get_pretrained_cfg(arch)
        hub_id = cfg.hf_hub_id if cfg is not None else None
        cached = _cached_hub_file(hub_id) if hub_id else None
        if cached:
            overlay = {"file": cached}
        elif not hub_id or not _hub_reachable():
            raise WeightsUnavailableError("error.model.offline", arch=arch)
    try:
        net = timm.create_model(arch, pretrained=bool(overlay) or pretrained,
                                pretrained_cfg_overlay=overlay or None)
    except Exception as e:  # a corrupt or mismatched file, a failed download
        raise WeightsUnavailableError("error.model.load_failed", arch=arch, detail=e) from e
    net.eval()
    dc = resolve_data_config({}, model=net)
    n = net.num_classes
    if n == 1000:
        info = ImageNetInfo()
        names = [info.index_to_description(i) for i in range(n)]
    else:
        names = [f"class {i}" for i in range(n)]
    return LoadedModel(TIMM_PREFIX + arch, net, kind_of(net), tuple(dc["input_size"][1:]), names,
                       tuple(dc["mean"]), tuple(dc["std"]), dc.get("crop_pct", 1.0) or 1.0,
                       pretrained=bool(overlay) or pretrained)


def top_k(probs: torch.Tensor, class_names, k: int = 5) -> list[tuple[str, float]]:
    """The k most probable classes of one probability vector, most probable first."""
    p = probs.detach().float().reshape(-1)
    k = min(k, p.numel())
    vals, idx = p.topk(k)
    return [(class_names[i] if i < len(class_names) else f"class {i}", float(v)) for v, i in zip(vals, idx.tolist())]


def total_stride(net: torch.nn.Module) -> int | None:
    """Feature-map stride of a CNN (32 for a ResNet), or the patch size of a ViT."""
    if hasattr(net, "patch_embed"):
        return int(net.patch_embed.patch_size[0])
    info = getattr(net, "feature_info", None)
    if info:
        return int(info[-1]["reduction"])
    return None
