"""core.biases against independent facts: CKA's invariances and a hand computation, tiles that are a permutation,
the ERF of one convolution, the parameter formulas against real modules, and the ViT permutation fact."""
import numpy as np
import pytest
import timm
import torch
from scipy import ndimage

from core import biases as bi
from core.models import build_embedded, load_model


def test_linear_cka_is_one_under_rotation_and_scaling_and_matches_a_hand_computation():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 8, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
    assert bi.linear_cka(x, x @ q) == pytest.approx(1.0, abs=1e-12)
    assert bi.linear_cka(x, 3.5 * x) == pytest.approx(1.0, abs=1e-12)
    assert bi.linear_cka(x, torch.randn(50, 5, generator=g, dtype=torch.float64)) < 0.5
    # by hand, with numpy: HSIC with linear kernels K = Xc Xc^T, L = Yc Yc^T: tr(KL) / sqrt(tr(KK) tr(LL))
    y = torch.randn(50, 3, generator=g, dtype=torch.float64)
    xc, yc = x.numpy() - x.numpy().mean(0), y.numpy() - y.numpy().mean(0)
    k, l_ = xc @ xc.T, yc @ yc.T
    expected = np.trace(k @ l_) / np.sqrt(np.trace(k @ k) * np.trace(l_ @ l_))
    assert bi.linear_cka(x, y) == pytest.approx(expected, rel=1e-10)
    wide = torch.randn(50, 200, generator=g, dtype=torch.float64)  # d > n: computed from the Gram matrices
    wc = wide.numpy() - wide.numpy().mean(0)
    kw = wc @ wc.T
    assert bi.linear_cka(wide, x) == pytest.approx(np.trace(kw @ k) / np.sqrt(np.trace(kw @ kw) * np.trace(k @ k)))
    assert bi.linear_cka(wide, wide @ torch.linalg.qr(torch.randn(200, 200, generator=g, dtype=torch.float64))[0]) \
        == pytest.approx(1.0, abs=1e-10)
    with pytest.raises(ValueError):
        bi.linear_cka(x, y[:10])


@pytest.mark.parametrize("grid", [2, 4, 8])
def test_shuffled_images_are_a_permutation_of_the_original_tiles(grid):
    g = torch.Generator().manual_seed(grid)
    images = torch.rand(3, 3, 64, 64, generator=g)
    out = bi.shuffle_patches(images, grid, g)
    t = 64 // grid
    for b in range(3):
        tiles = lambda im: sorted(im[:, r * t:(r + 1) * t, c * t:(c + 1) * t].numpy().tobytes()  # noqa: E731
                                  for r in range(grid) for c in range(grid))
        assert tiles(out[b]) == tiles(images[b])
    assert not torch.equal(out, images)
    with pytest.raises(bi.BiasError):
        bi.shuffle_patches(images, 5, g)


def test_the_erf_of_a_single_3x3_convolution_is_its_3x3_support():
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    net = torch.nn.Module()
    net.forward_features = conv  # a "CNN" whose last feature map is one 3x3 convolution
    erf = bi.effective_receptive_field(net, 0, torch.rand(2, 3, 9, 9))
    support = (erf > 0).nonzero().tolist()
    assert sorted(support) == [[r, c] for r in (3, 4, 5) for c in (3, 4, 5)]
    # by hand: d(sum over output channels at the centre)/d input = the sum of the filters, flipped into place
    expected = conv.weight.detach().sum(0).abs().sum(0)
    torch.testing.assert_close(erf[3:6, 3:6], expected / expected.sum())
    assert float(erf.sum()) == pytest.approx(1.0)


def test_the_erf_of_a_resnet_stage_grows_with_depth():
    # reset as the page's "untrained" series is: timm zero-initialises each block's last norm, which would make every
    # block an identity and every stage's centre the stem's
    net = bi.untrained_copy(build_embedded("resnet"))
    x = torch.randn(2, 3, 64, 64)
    radii = [bi.mass_radius(bi.effective_receptive_field(net, s, x), (31.5, 31.5), 0.9) for s in range(5)]
    assert radii[0] < radii[2] < radii[4]
    with pytest.raises(bi.BiasError):
        bi.effective_receptive_field(net, 7, x)


def _flip_symmetric(t: torch.Tensor) -> torch.Tensor:
    """The mean of t and its mirror images in the last two axes: unchanged by either flip."""
    return (t + t.flip(-1) + t.flip(-2) + t.flip(-1, -2)) / 4


def test_a_symmetric_probe_through_symmetric_kernels_gives_an_erf_centred_on_the_image():
    torch.manual_seed(0)
    # a stride-2 layer whose windows tile the 16-px input symmetrically (k 4, padding 1: output j sees 2j-1 .. 2j+2),
    # and an 8 x 8 output: no centre cell
    body = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(4, 6, 4, stride=2, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(6, 5, 3, padding=1)).double()  # double: exact symmetry to 1e-12
    with torch.no_grad():
        for m in body:
            if isinstance(m, torch.nn.Conv2d):
                m.weight.copy_(_flip_symmetric(m.weight))
    net = torch.nn.Module()
    net.forward_features = body
    x = _flip_symmetric(torch.rand(3, 3, 16, 16, dtype=torch.float64))
    assert body(x).shape[-2:] == (8, 8)
    erf = bi.effective_receptive_field(net, 0, x).double().numpy()
    np.testing.assert_allclose(ndimage.center_of_mass(erf), (7.5, 7.5), atol=1e-9)
    np.testing.assert_allclose(erf, erf[::-1, ::-1], atol=1e-12)
    # the four central cells tie: the ERF is the mean of their normalised gradient maps, computed here by hand
    x = x.clone().requires_grad_(True)
    maps = []
    for r, c in ((3, 3), (3, 4), (4, 3), (4, 4)):
        g, = torch.autograd.grad(body(x)[:, :, r, c].sum(), x)
        m = g.abs().sum(1).mean(0).double()
        maps.append(m / m.sum())
    np.testing.assert_allclose(erf, torch.stack(maps).mean(0).numpy(), atol=1e-12)
    # any one of them alone (the cell at ((h-1)//2, (w-1)//2), say) is off-centre
    assert np.hypot(*np.subtract(ndimage.center_of_mass(maps[0].numpy()), (7.5, 7.5))) > 1


def test_a_resnets_erf_is_centred_on_the_image_at_every_stage():
    # timm's stride-2 layers put output cell j over input 2j: cell (h/2, w/2) sits over pixel 32 on a 64-px canvas
    net = bi.untrained_copy(build_embedded("resnet"))
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for s in range(5):
        com = ndimage.center_of_mass(bi.effective_receptive_field(net, s, x).double().numpy())
        assert np.hypot(com[0] - 31.5, com[1] - 31.5) < 1.5, (s, com)


def test_radii_are_measured_around_the_image_centre_for_both_models(monkeypatch):
    # half the mass on the four central pixels (sqrt(0.5) px from the centre 3.5, 3.5), half on the four corners
    w = torch.zeros(8, 8, dtype=torch.float64)
    w[3:5, 3:5] = 0.125
    w[::7, ::7] = 0.125
    assert bi.centre_radii(w) == pytest.approx((np.sqrt(0.5), 3.5 * np.sqrt(2)))
    corner = torch.zeros(8, 8, dtype=torch.float64)
    corner[0, 0] = 1  # around its own centre of mass it would be 0
    assert bi.centre_radii(corner) == pytest.approx((3.5 * np.sqrt(2), 3.5 * np.sqrt(2)))
    # the CNN's rows: its ERF's radii around the image centre, whatever its centre of mass
    monkeypatch.setattr(bi, "effective_receptive_field", lambda net, stage, images: corner.float())
    row, = bi.cnn_locality(torch.nn.Module(), torch.zeros(1, 3, 8, 8), stages=(None,))
    assert (row["r50"], row["r90"]) == pytest.approx((3.5 * np.sqrt(2),) * 2)
    assert row["centroid"] == pytest.approx((0, 0))


def test_the_vit_is_measured_from_its_four_central_patches(monkeypatch):
    net = build_embedded("vit").eval()  # 8 x 8 patches of 8 px, one class token, 6 layers
    # every token attends to itself alone: the map is the four central patches' own squares, a quarter each
    eye = torch.eye(65).expand(1, 6, 3, 65, 65)
    monkeypatch.setattr(bi, "attention_maps", lambda net, x: eye)
    for row in bi.vit_locality(net, torch.zeros(1, 3, 64, 64)):
        for kind in ("attention", "rollout"):
            m = row[kind].double().numpy()
            assert (m > 0).nonzero()[0].min() == 24 and (m > 0).nonzero()[0].max() == 39
            assert (m > 0).nonzero()[1].min() == 24 and (m > 0).nonzero()[1].max() == 39
            np.testing.assert_allclose(ndimage.center_of_mass(m), (31.5, 31.5), atol=1e-9)
            # by hand: a uniform 16 x 16 px square around the centre; the radii that hold 128 and 231 of its pixels
            d = np.sort(np.hypot(*np.meshgrid(np.arange(16) - 7.5, np.arange(16) - 7.5)).ravel())
            assert row[f"{kind}_r50"] == pytest.approx(d[127]) and row[f"{kind}_r90"] == pytest.approx(d[230])


def test_the_mass_radius_of_a_point_and_of_a_ring():
    w = torch.zeros(11, 11)
    w[5, 5] = 1
    assert bi.mass_radius(w, (5, 5), 0.5) == 0
    w[5, 9] = 3  # three quarters of the mass 4 px away
    assert bi.mass_radius(w, (5, 5), 0.2) == 0 and bi.mass_radius(w, (5, 5), 0.9) == 4


def test_the_parameter_formulas_match_real_modules():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert bi.conv_params(3, 16, 3) == count(torch.nn.Conv2d(3, 16, 3))
    assert bi.dense_params(64 * 64 * 3, 16) == count(torch.nn.Linear(64 * 64 * 3, 16))
    # a locally connected layer written as an unshared convolution: one Conv2d per output position
    assert bi.locally_connected_params(3, 16, 3, 4, 5) == 20 * count(torch.nn.Conv2d(3, 16, 3))
    vit = build_embedded("vit")
    assert bi.vit_block_params(96, 192) == count(vit.blocks[0])
    parts = bi.params_by_part(vit)
    assert sum(parts.values()) == count(vit) and parts["pos_embed"] == 65 * 96
    assert parts["attention"] == 6 * (3 * 96 * 96 + 3 * 96 + 96 * 96 + 96)
    cnn = bi.params_by_part(build_embedded("resnet"))
    assert sum(cnn.values()) == count(build_embedded("resnet")) and set(cnn) == {"stem", "layer1", "layer2",
                                                                                  "layer3", "layer4", "head"}


def test_a_vits_widths_come_from_the_model():
    # the embedded ViT is built with embed_dim 96 and mlp_ratio 2 (core.models)
    assert bi.vit_widths(build_embedded("vit")) == (96, 192)
    with pytest.raises(bi.BiasError):
        bi.vit_widths(build_embedded("resnet"))


def _patch_permutation(x: torch.Tensor, perm: torch.Tensor, patch: int) -> torch.Tensor:
    g = x.shape[-1] // patch
    return bi._untile(bi._tiles(x, g)[0][:, perm], g)


def test_without_position_embeddings_a_vit_does_not_care_where_its_patches_are():
    net = load_model("vit").net  # the trained ViT: its position embeddings carry what it learnt
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(1))
    moved = _patch_permutation(x, perm, 8)
    with torch.no_grad():
        torch.testing.assert_close(bi.vit_logits(net, x), net(x), atol=1e-5, rtol=0)  # the plain forward
        zero, zero_moved = bi.vit_logits(net, x, pos="zero"), bi.vit_logits(net, moved, pos="zero")
        assert (zero - zero_moved).abs().max() < 1e-5  # the exact fact, to float precision
        learnt = (bi.vit_logits(net, x) - bi.vit_logits(net, moved)).abs().max()
    assert learnt > 1e-2  # with its position embeddings it does care


def test_dropping_tokens_and_blacking_out_patches():
    torch.manual_seed(0)
    net = build_embedded("vit").eval()
    x = torch.rand(2, 3, 64, 64)
    dropped = bi.patches_to_drop(64, 0.25, torch.Generator().manual_seed(0))
    assert len(dropped) == 16 and len(set(dropped.tolist())) == 16
    black = bi.drop_patches(x, 8, dropped)
    tiles = bi._tiles(black, 8)[0]
    assert (tiles[:, dropped] == 0).all() and torch.equal(tiles[:, 0 if 0 not in dropped else 1],
                                                          bi._tiles(x, 8)[0][:, 0 if 0 not in dropped else 1])
    keep = torch.tensor([i for i in range(64) if i not in set(dropped.tolist())])
    with torch.no_grad():
        out = bi.vit_logits(net, x, keep=keep)
        # removing tokens is not the same as blacking them out
        assert out.shape == (2, 10) and not torch.allclose(out, bi.vit_logits(net, black))
    with pytest.raises(bi.BiasError):
        bi.vit_logits(build_embedded("resnet"), x)


def test_the_cka_matrix_is_linear_cka_of_every_pair_and_a_layer_matches_itself():
    g = torch.Generator().manual_seed(3)
    a = [torch.randn(30, d, generator=g) for d in (5, 40)]
    b = [a[1] @ torch.linalg.qr(torch.randn(40, 40, generator=g))[0], torch.randn(30, 7, generator=g)]
    m = bi.cka_matrix(a, b)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert float(m[i, j]) == pytest.approx(bi.linear_cka(x, y), abs=1e-5)
    assert float(m[1, 0]) == pytest.approx(1.0, abs=1e-5)
    feats = bi.layer_features(build_embedded("vit").eval(), torch.randn(4, 3, 64, 64))
    assert len(feats) == 6 and feats[0].shape == (4, 65 * 96)


class _OneConv(torch.nn.Module):
    """A CNN that is no ResNet: one 3x3 convolution as its whole feature extractor."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward_features(self, x):
        return self.conv(x)


def test_a_cnn_that_is_no_resnet_is_measured_at_its_last_map_only():
    """One row (stage None), never the same last map reported as five stages (its support: the 3x3 window around the
    centre, as a 3x3 convolution's output at one position depends on those nine pixels and no others)."""
    torch.manual_seed(0)
    net = _OneConv()
    rows = bi.cnn_locality(net, torch.rand(2, 3, 9, 9))
    assert len(rows) == 1 and rows[0]["stage"] is None
    erf = rows[0]["erf"]
    assert torch.isclose(erf.sum(), torch.tensor(1.0)) and rows[0]["support"] == (3, 3, 5, 5)
    assert (erf[3:6, 3:6] > 0).all() and erf.sum() == erf[3:6, 3:6].sum()


def test_a_timm_cnn_that_is_no_resnet_gets_one_receptive_field():
    net = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=10).eval()
    rows = bi.cnn_locality(net, torch.rand(2, 3, 64, 64))
    assert len(rows) == 1 and rows[0]["stage"] is None
    assert torch.isclose(rows[0]["erf"].sum(), torch.tensor(1.0)) and 0 < rows[0]["r50"] <= rows[0]["r90"]
