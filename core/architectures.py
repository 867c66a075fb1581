"""The embedded architectures: small timm models for 64x64 canvases, one builder per name in `ARCHITECTURES`.

core.models builds them by name (`build_embedded`) for the loader, the training script and the experiments; this
module only says what each one is. The variants ask whether a result belongs to CNNs (or ViTs) or to one design.
"""
from __future__ import annotations

import threading
from typing import Callable

import torch
import torch.nn as nn

# timm's classes are imported inside the builders: importing timm costs seconds, and core.models imports this module
# for pages that only list the models or read their card
_TIMM_IMPORT = threading.Lock()


def load_timm():
    """timm, imported whole by one thread at a time; call it before importing anything from timm. timm's package
    imports every model module, and they import each other: a thread that starts at `import timm` and one that
    starts at `from timm.models.resnet import ...` deadlock on Python's module locks (the warm-up's thread and a
    first visitor's page). Once timm is in, the imports below it are look-ups."""
    with _TIMM_IMPORT:
        import timm
    return timm


def resnet(num_classes: int, **kw) -> nn.Module:
    """The embedded CNN: a timm ResNet of four one-block stages, 16 to 128 channels, ImageNet's stem."""
    load_timm()
    from timm.models.resnet import BasicBlock, ResNet

    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=num_classes, channels=(16, 32, 64, 128), stem_width=16, **kw)


def resnet_aa(num_classes: int) -> nn.Module:
    """The embedded ResNet with every stride-2 path anti-aliased (Zhang 2019)."""
    load_timm()
    from timm.layers import BlurPool2d

    return _blur_every_downsampling(resnet(num_classes, aa_layer=BlurPool2d))


def resnet_variant(arch: str, num_classes: int) -> nn.Module:
    """The embedded ResNet with another stem or padding, to ask whether a result belongs to CNNs or to this one.

    - resnet-cifar: the stem He et al. (2016, sec. 4.2) use for small images, a 3x3 stride-1 convolution and no
      max-pool; the first stage runs at 64x64 and the last map is 8x8, the ViT's token grid;
    - resnet-s2: a 3x3 stride-2 stem convolution and no max-pool (last map 4x4);
    - resnet-circular: the shipped stem, every padding circular (the max-pool's too), so no layer sees a border.
    """
    net = resnet(num_classes)
    if arch == "resnet-circular":
        for m in net.modules():
            if isinstance(m, nn.Conv2d) and m.padding != (0, 0):
                m.padding_mode = "circular"
        net.maxpool = nn.Sequential(nn.CircularPad2d(1), nn.MaxPool2d(3, stride=2))
        return net
    net.conv1 = nn.Conv2d(3, net.conv1.out_channels, 3, stride=1 if arch == "resnet-cifar" else 2, padding=1,
                          bias=False)
    net.maxpool = nn.Identity()
    return net


def vit(num_classes: int, conv_stem: bool = False) -> nn.Module:
    """The embedded ViT: 8x8-px patches of a 64-px canvas (an 8x8 token grid), width 96, 3 heads, 6 blocks.

    mlp_ratio 2 (not 4): a third fewer FLOPs, so the ViT trains to 95 % within the CPU budget. `conv_stem`:
    Xiao et al. 2021's convolutional stem in place of the patch projection, with one block fewer, as in the paper,
    so that its FLOPs stay close to the plain ViT's (the stem costs about a block)."""
    load_timm()
    from timm.models.vision_transformer import VisionTransformer

    net = VisionTransformer(img_size=64, patch_size=8, embed_dim=96, depth=5 if conv_stem else 6, num_heads=3,
                            mlp_ratio=2, num_classes=num_classes)
    if conv_stem:
        net.patch_embed.proj = _conv_stem(net.embed_dim)
    return net


def _conv_stem(dim: int) -> nn.Module:
    """Xiao et al. 2021 ("Early convolutions help transformers see better"): 3x3 stride-2 convolutions with batch
    norm and ReLU, channels doubling up to the width, then a 1x1 convolution; three of them make the 8x8-px
    patches' 8x8 token grid."""
    layers, c_in = [], 3
    for c_out in (dim // 4, dim // 2, dim):
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        c_in = c_out
    return nn.Sequential(*layers, nn.Conv2d(dim, dim, 1))


def _blur_every_downsampling(net: nn.Module) -> nn.Module:
    """Anti-alias every stride-2 path of a timm ResNet built with `aa_layer=BlurPool2d` (Zhang 2019).

    timm's `aa_layer` blurs the stem's max-pool and each block's main path, but leaves the stem convolution and the
    1x1 shortcut convolutions strided, so they still subsample without a low-pass filter. As in Zhang's
    anti-aliased ResNet: the stem convolution runs at stride 1 and is followed by a BlurPool, and each shortcut
    is a BlurPool followed by a stride-1 1x1 convolution. Afterwards the only strided layers are BlurPools.
    """
    load_timm()
    from timm.layers import BlurPool2d

    stem = net.conv1
    stem.stride = (1, 1)
    net.act1 = torch.nn.Sequential(net.act1, BlurPool2d(stem.out_channels, stride=2))
    for block in (b for stage in (net.layer1, net.layer2, net.layer3, net.layer4) for b in stage):
        down = block.downsample
        if down is not None and down[0].stride != (1, 1):
            conv = down[0]
            conv.stride = (1, 1)
            block.downsample = torch.nn.Sequential(BlurPool2d(conv.in_channels, stride=2), *down)
    return net


ARCHITECTURES: dict[str, Callable[[int], nn.Module]] = {  # name -> builder(num_classes)
    "resnet": resnet,
    "resnet-aa": resnet_aa,
    "resnet-cifar": lambda n: resnet_variant("resnet-cifar", n),
    "resnet-s2": lambda n: resnet_variant("resnet-s2", n),
    "resnet-circular": lambda n: resnet_variant("resnet-circular", n),
    "vit": vit,
    "vit-convstem": lambda n: vit(n, conv_stem=True),
}
