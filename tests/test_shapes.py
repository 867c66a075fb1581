"""core.shapes: sprites, compositing and the procedural dataset, against hand-computed pictures."""
import numpy as np
import torch

from core import shapes


def test_object_occupies_exactly_its_mask():
    bg = torch.rand(3, 40, 50)
    sprite = shapes.make_sprite("star", 15, angle=20, color=(0.1, 0.9, 0.3))
    mask = sprite.alpha.numpy()
    for x, y in [(0, 0), (7, 3), (35, 25), (-5, 30), (45, 38)]:
        frame = shapes.composite(bg, sprite, [x], [y])[0].numpy()
        expect = bg.numpy().copy()
        for i in range(15):
            for j in range(15):
                yy, xx = y + i, x + j
                if 0 <= yy < 40 and 0 <= xx < 50:
                    a = mask[i, j]
                    expect[:, yy, xx] = (1 - a) * expect[:, yy, xx] + a * np.array([0.1, 0.9, 0.3])
        np.testing.assert_allclose(frame, expect, atol=1e-6)
        # untouched outside the box, and fully covered pixels are exactly the object colour
        covered = np.zeros((40, 50), bool)
        full = np.argwhere(mask == 1.0)
        for i, j in full:
            if 0 <= y + i < 40 and 0 <= x + j < 50:
                covered[y + i, x + j] = True
        assert np.allclose(frame[:, covered].T, [0.1, 0.9, 0.3])


def test_shifted_object_is_an_exact_shift():
    bg = torch.zeros(3, 30, 30)
    sprite = shapes.make_sprite("heart", 12, angle=33, color=(1, 1, 1))
    a, b = shapes.composite(bg, sprite, [3, 8], [4, 6])
    assert torch.equal(torch.roll(a, (2, 5), (1, 2)), b)


def test_dataset_is_balanced_seeded_and_objects_lie_where_their_centres_say():
    images, labels, centres = shapes.make_dataset(40, seed=3)
    again = shapes.make_dataset(40, seed=3)
    assert torch.equal(images, again[0]) and torch.equal(labels, again[1])
    assert np.bincount(labels.numpy(), minlength=10).tolist() == [4] * 10  # balanced
    lo, hi = shapes.SIZE_RANGE
    assert ((centres >= lo / 2) & (centres <= shapes.CANVAS - lo / 2)).all()  # the whole object is inside
    u8 = shapes.make_dataset(40, seed=3, dtype=torch.uint8)[0]
    assert u8.dtype == torch.uint8 and torch.equal(u8, (images * 255).round().to(torch.uint8))


def test_centre_region_keeps_objects_near_the_middle():
    _, _, centres = shapes.make_dataset(200, seed=4, region="center")
    # top-left drawn within CENTER_RADIUS of the centred position, then rounded: at most half a pixel more
    assert (np.abs(centres.numpy() - shapes.CANVAS / 2) <= shapes.CENTER_RADIUS + 0.5).all()
