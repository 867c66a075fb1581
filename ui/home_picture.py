"""The home page's pictures: the two inductive biases drawn on one image the embedded models know.

usage: python -m ui.home_picture      (writes ui/<stem>_cnn.png and ui/<stem>_vit.png for each language, the stem
                                      and the texts from its catalogue; the home page shows the files of its language
                                      and never imports torch)

Two panels, each its own file, so that the page can set them side by side on a laptop and one above the other on a
phone, where one picture of both would shrink its words below reading size.
The CNN's: one 3x3 kernel (the same nine weights) at several positions of the image, each reading only its
neighbourhood. The ViT's: the same image cut into 8x8-pixel patches (the tokens), and one patch's links to patches
far away, which attention allows from the first layer on.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core import images, pictures
from ui.i18n import LANGUAGES, catalogue

HERE = Path(__file__).parent
SCALE = 5  # screen pixels per image pixel: a 64-px image becomes 320 px
PATCH = 8
FONT = 20
TOP, BOTTOM = 64, 64  # room for the two-line title above the image and the two-line note below it
CNN_BLUE, VIT_RED = (31, 119, 180), (214, 39, 40)


def panels(image: np.ndarray, text: dict[str, str], cjk: bool = False) -> tuple[Image.Image, Image.Image]:
    """[H, W, 3] uint8 (64x64) -> (the CNN's panel, the ViT's panel), their words from `text` (a catalogue)."""
    def _font(size: int):
        if cjk and pictures.cjk_font_path() is None:
            raise SystemExit("the Chinese picture needs a CJK font (Debian: apt install fonts-noto-cjk)")
        return ImageFont.truetype(pictures.cjk_font_path(), size) if cjk else ImageFont.load_default(size=size)

    h, w = image.shape[:2]
    big = Image.fromarray(image).resize((w * SCALE, h * SCALE), Image.NEAREST)
    title_font, note_font = _font(FONT), _font(FONT - 4)
    note = text["home_picture.vit_note"].format(patches=(w // PATCH) * (h // PATCH), size=PATCH)
    words = ((text["home_picture.cnn_title"], title_font), (text["home_picture.vit_title"], title_font),
             (text["home_picture.cnn_note"], note_font), (note, note_font))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(big.width, *(probe.multiline_textbbox((0, 0), s, font=f)[2] + 2 for s, f in words))

    def _panel(title: str, colour, caption: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        out = Image.new("RGB", (width, TOP + big.height + BOTTOM), (255, 255, 255))
        d = ImageDraw.Draw(out)
        d.multiline_text((0, 4), title, fill=colour, font=title_font)
        out.paste(big, (0, TOP))
        d.multiline_text((0, TOP + big.height + 8), caption, fill=(60, 60, 60), font=note_font)
        return out, d

    # the CNN's: the same 3x3 window at a few positions (3 image pixels a side)
    cnn, d = _panel(text["home_picture.cnn_title"], CNN_BLUE, text["home_picture.cnn_note"])
    for cx, cy in ((10, 12), (40, 27), (50, 20), (20, 50), (46, 48)):
        x0, y0 = (cx - 1) * SCALE, TOP + (cy - 1) * SCALE
        d.rectangle([x0, y0, x0 + 3 * SCALE, y0 + 3 * SCALE], outline=CNN_BLUE, width=3)

    # the ViT's: the patch grid, one query patch and its links to far patches
    vit, d = _panel(text["home_picture.vit_title"], VIT_RED, note)
    p = PATCH * SCALE
    for i in range(1, w // PATCH):
        d.line([i * p, TOP, i * p, TOP + big.height], fill=(255, 255, 255), width=1)
    for j in range(1, h // PATCH):
        d.line([0, TOP + j * p, big.width, TOP + j * p], fill=(255, 255, 255), width=1)
    qx, qy = 3, 4
    centre = (qx * p + p // 2, TOP + qy * p + p // 2)
    for kx, ky in ((0, 0), (7, 1), (6, 7), (1, 6), (4, 1)):
        key = (kx * p + p // 2, TOP + ky * p + p // 2)
        d.line([centre, key], fill=VIT_RED, width=3)
        d.ellipse([key[0] - 6, key[1] - 6, key[0] + 6, key[1] + 6], fill=VIT_RED)
    d.rectangle([qx * p, TOP + qy * p, (qx + 1) * p, TOP + (qy + 1) * p], outline=(255, 210, 30), width=4)
    return cnn, vit


def main() -> None:
    star = pictures.to_uint8(images.load_sample("one star (64×64)"))
    for lang in LANGUAGES:
        text = catalogue(lang)
        for name, panel in zip(("cnn", "vit"), panels(star, text, cjk=lang == "zh")):
            out = HERE / f"{text['home.picture']}_{name}.png"
            panel.save(out, optimize=True)
            print(f"wrote {out}")


if __name__ == "__main__":
    main()
