"""The home page's picture: the two inductive biases drawn on one image the embedded models know.

usage: python -m ui.home_picture      (writes ui/home.png and ui/home_zh.png, the texts from the catalogues; the
                                      home page shows the file of its language and never imports torch)

Left, a CNN: one 3x3 kernel (the same nine weights) at several positions of the image, each reading only its
neighbourhood. Right, a ViT: the same image cut into 8x8-pixel patches (the tokens), and one patch's links to
patches far away, which attention allows from the first layer on.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core import pictures

HERE = Path(__file__).parent
SCALE = 5  # screen pixels per image pixel: a 64-px image becomes 320 px
PATCH = 8
FONT = 20


def picture(image: np.ndarray, text: dict[str, str], cjk: bool = False) -> Image.Image:
    """[H, W, 3] uint8 (64x64) -> the two-panel picture, its words from `text` (a catalogue)."""
    def _font(size: int):
        if cjk and pictures.cjk_font_path() is None:
            raise SystemExit("the Chinese picture needs a CJK font (Debian: apt install fonts-noto-cjk)")
        return ImageFont.truetype(pictures.cjk_font_path(), size) if cjk else ImageFont.load_default(size=size)

    h, w = image.shape[:2]
    big = Image.fromarray(image).resize((w * SCALE, h * SCALE), Image.NEAREST)
    gap, top = 60, 64
    out = Image.new("RGB", (2 * big.width + gap, big.height + top + 64), (255, 255, 255))
    d = ImageDraw.Draw(out)
    d.multiline_text((0, 4), text["home_picture.cnn_title"], fill=(31, 119, 180), font=_font(FONT))
    d.multiline_text((big.width + gap, 4), text["home_picture.vit_title"], fill=(214, 39, 40), font=_font(FONT))

    # CNN panel: the same 3x3 window at a few positions (3 image pixels a side)
    out.paste(big, (0, top))
    for cx, cy in ((10, 12), (40, 27), (50, 20), (20, 50), (46, 48)):
        x0, y0 = (cx - 1) * SCALE, top + (cy - 1) * SCALE
        d.rectangle([x0, y0, x0 + 3 * SCALE, y0 + 3 * SCALE], outline=(31, 119, 180), width=3)
    d.multiline_text((0, top + big.height + 8), text["home_picture.cnn_note"], fill=(60, 60, 60),
                     font=_font(FONT - 4))

    # ViT panel: the patch grid, one query patch and its links to far patches
    x_off = big.width + gap
    out.paste(big, (x_off, top))
    p = PATCH * SCALE
    for i in range(1, w // PATCH):
        d.line([x_off + i * p, top, x_off + i * p, top + big.height], fill=(255, 255, 255), width=1)
    for j in range(1, h // PATCH):
        d.line([x_off, top + j * p, x_off + big.width, top + j * p], fill=(255, 255, 255), width=1)
    qx, qy = 3, 4
    centre = (x_off + qx * p + p // 2, top + qy * p + p // 2)
    for kx, ky in ((0, 0), (7, 1), (6, 7), (1, 6), (4, 1)):
        d.line([centre, (x_off + kx * p + p // 2, top + ky * p + p // 2)], fill=(214, 39, 40), width=3)
        d.ellipse([x_off + kx * p + p // 2 - 6, top + ky * p + p // 2 - 6, x_off + kx * p + p // 2 + 6,
                   top + ky * p + p // 2 + 6], fill=(214, 39, 40))
    d.rectangle([x_off + qx * p, top + qy * p, x_off + (qx + 1) * p, top + (qy + 1) * p], outline=(255, 210, 30),
                width=4)
    note = text["home_picture.vit_note"].format(patches=(w // PATCH) * (h // PATCH), size=PATCH)
    d.multiline_text((x_off, top + big.height + 8), note, fill=(60, 60, 60), font=_font(FONT - 4))
    return out


def main() -> None:
    from core import images, pictures
    from ui.i18n import LANGUAGES, catalogue

    star = pictures.to_uint8(images.load_sample("one star (64×64)"))
    for lang in LANGUAGES:
        text = catalogue(lang)
        out = HERE / text["home.picture"]
        picture(star, text, cjk=lang == "zh").save(out, optimize=True)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
