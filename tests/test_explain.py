"""Class-specific saliency maps (core/explain.py), against hand-built cases and independent computations: a network
whose evidence sits in one known region, the Grad-CAM = CAM identity for global-average-pooled CNNs, the hook-free
attention of core.attention. Their faithfulness on a common grid is tested in tests/test_faithfulness.py."""
import threading

import numpy as np
import pytest
import torch
from torch import nn

from core import attention as att
from core import explain, faithfulness, images, models

REGION = (slice(8, 24), slice(36, 56))  # rows, cols of the only place RegionNet looks at (64x64 input)


class Mask(nn.Module):
    def __init__(self):
        super().__init__()
        mask = torch.zeros(1, 1, 64, 64)
        mask[..., REGION[0], REGION[1]] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, x):
        return x * self.mask


class RegionNet(nn.Module):
    """A CNN with global average pooling whose feature map is zero outside REGION: its class scores can only come
    from there. Weights are positive, so class 0's evidence is positive wherever the image is bright."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), Mask())
        self.fc = nn.Linear(4, 2)
        with torch.no_grad():
            self.features[0].weight.abs_()
            self.features[0].bias.fill_(0.1)
            self.fc.weight.abs_()

    def get_classifier(self):
        return self.fc

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


def region_model() -> models.LoadedModel:
    net = RegionNet().eval()
    return models.LoadedModel("region", net, "cnn", (64, 64), ["a", "b"], (0.0,) * 3, (1.0,) * 3)


def textured() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.rand(3, 64, 64, generator=g)


@pytest.mark.parametrize("method", explain.CNN_METHODS)
def test_a_cnn_map_finds_the_only_region_the_network_uses(method):
    e = explain.explain(region_model(), textured(), class_idx=0)
    m = e.maps[method]
    inside = np.zeros_like(m, dtype=bool)
    inside[REGION] = True
    peak = np.unravel_index(m.argmax(), m.shape)
    assert inside[peak], (method, peak)
    assert m[inside].mean() > 10 * m[~inside].mean()


def test_deleting_the_region_first_drops_the_score_first():
    """The CNN's own Grad-CAM of RegionNet ranks the region first: on a 4x4 grid it must give a lower deletion area
    and a higher insertion area than the same map upside down (the region last), with either baseline."""
    lm = region_model()
    e = explain.explain(lm, textured(), class_idx=0)
    m = e.native["gradcam"]
    f = faithfulness.measure(lm, textured(), 0, {"map": m, "reversed": 1 - m}, (4, 4))
    for kind in faithfulness.BASELINES:
        good, bad = f["map"].curves[kind], f["reversed"].curves[kind]
        assert good.deletion_auc < bad.deletion_auc and good.insertion_auc > bad.insertion_auc, kind


def test_grad_cam_equals_cam_for_a_cnn_with_global_average_pooling():
    """Selvaraju et al. 2017, sec. 3.1: with global average pooling and a linear layer, the Grad-CAM weights are
    the class's classifier weights divided by the map size, so the two maps agree once scaled to [0, 1]."""
    lm = models.load_model("cnn", pretrained=False)
    e = explain.explain(lm, images.load_sample("one star (64×64)"), class_idx=3)
    cam, grad = e.maps["cam"], e.maps["gradcam"]
    positive = cam > 0  # Grad-CAM clips negative evidence (ReLU), CAM keeps it
    np.testing.assert_allclose(grad[positive], cam[positive] * grad.max() / cam.max(), atol=1e-4)


def test_cam_is_zhou_et_al_the_classifier_weights_over_the_last_feature_map():
    """CAM (Zhou et al. 2016), written out: M_c = sum_k w_ck f_k over the last feature map, whose mean plus the bias is
    the class's logit. TorchCAM's map (as explain returns it, scaled to [0, 1]) must be that map, scaled the same."""
    from timm.models.resnet import BasicBlock, ResNet

    torch.manual_seed(0)
    net = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=4, channels=(8, 8, 16, 16), stem_width=8).eval()
    lm = models.LoadedModel("resnet", net, "cnn", (64, 64), list("abcd"), (0.0,) * 3, (1.0,) * 3)
    img = textured()
    with torch.no_grad():
        feats = net.forward_features(lm.preprocess(img))[0]
        logits = net(lm.preprocess(img))[0]
    for cls in (1, 3):
        by_hand = torch.einsum("c,chw->hw", net.fc.weight[cls].detach(), feats)
        torch.testing.assert_close(by_hand.mean() + net.fc.bias[cls].detach(), logits[cls])
        native = explain.explain(lm, img, class_idx=cls).native["cam"]
        ref = (by_hand - by_hand.min()) / (by_hand.max() - by_hand.min())
        np.testing.assert_allclose(native, ref.numpy(), atol=1e-5)


def test_vit_attention_and_rollout_are_those_of_the_hook_free_attention_code():
    lm = models.load_model("vit", pretrained=False)
    img = images.load_sample("shapes")
    e = explain.explain(lm, img)
    a = att.attention_maps(lm.net, lm.preprocess(img))[0]  # [L, H, N, N], computed without hooks
    expected = {"attention": a[-1].mean(0)[0, 1:], "rollout": att.rollout(a)[0, 1:]}
    for method, row in expected.items():
        ref = explain.stretched(row.reshape(8, 8), (64, 64))
        np.testing.assert_allclose(e.maps[method], ref, atol=1e-4, err_msg=method)


def _relevance_by_hand(net, x, cls):
    """Chefer et al. 2021 (eq. 5-6) on a ViT forward written out here, attention kept in the graph: for each block,
    R <- R + mean_h[(dS/dA * A)+] R, from R = I; the class token's row over the patches."""
    h = net.norm_pre(net._pos_embed(net.patch_embed(x)))
    attns = []
    for blk in net.blocks:
        m = blk.attn
        y = blk.norm1(h)
        B, N, C = y.shape
        q, k, v = m.qkv(y).reshape(B, N, 3, m.num_heads, m.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        a = ((m.q_norm(q) * m.scale) @ m.k_norm(k).transpose(-2, -1)).softmax(-1)
        attns.append(a)
        out = m.proj(m.norm((a @ v).transpose(1, 2).reshape(B, N, C)))
        h = h + blk.ls1(out)
        h = h + blk.ls2(blk.mlp(blk.norm2(h)))
    score = net.forward_head(net.norm(h))[0, cls]
    grads = torch.autograd.grad(score, attns)
    r = torch.eye(attns[0].shape[-1])
    for a, g in zip(attns, grads):
        r = r + (g[0] * a[0]).clamp(min=0).mean(0) @ r
    return r[0, 1:].detach()


def test_vit_relevance_is_chefer_et_al_on_a_forward_written_out_by_hand():
    lm = models.load_model("vit")
    img = images.load_sample("shapes")
    for cls in (0, 7):
        e = explain.explain(lm, img, class_idx=cls)
        ref = explain.stretched(_relevance_by_hand(lm.net, lm.preprocess(img), cls).reshape(8, 8), (64, 64))
        np.testing.assert_allclose(e.maps["relevance"], ref, atol=1e-4)


def test_the_trained_vit_explains_a_star_by_the_star():
    """One star on a background, as in training: every ViT map's strongest 64 pixels (1.6 %) lie on the star's
    box, and on the ViT's own 8x8 grid deleting cells in the map's order beats deleting them in a random order."""
    lm = models.load_model("vit")
    img = images.load_sample("one star (64×64)")  # the star's sprite: 22 px at x=30, y=12
    e = explain.explain(lm, img)
    assert lm.class_names[e.class_idx] == "star"
    box = np.zeros((64, 64), dtype=bool)
    box[12:34, 30:52] = True
    random_order = np.random.default_rng(0).permutation(64).reshape(8, 8).astype(float)
    f = faithfulness.measure(lm, img, e.class_idx, {**e.native, "random": random_order}, (8, 8))
    for method, m in e.maps.items():
        top = np.argsort(-m.reshape(-1))[:64]
        assert box.reshape(-1)[top].mean() > 0.9, method
        assert f[method].curves["blur"].deletion_auc < f["random"].curves["blur"].deletion_auc, method


def test_a_bilinear_upsampling_of_a_2x2_map_holds_each_cell_flat_out_to_the_corner():
    """Why maps are not ranked pixel by pixel after upsampling: with align_corners=False a 2x2 map's cell value sits
    at the cell's centre (pixel 15.5 of 64) and is held flat beyond it, so the top cell's whole 16x16 corner block ties
    at the maximum: a pixel ranking deletes the image's corner before the middle of the cell."""
    up = explain.stretched(torch.tensor([[0.0, 1.0], [0.0, 0.5]]), (64, 64))
    assert (up[:16, 48:] == 1.0).all()
    assert up[16, 47] < 1.0 and up[31, 32] < 1.0  # the cell's own inner corner, next to the others, is lower


def test_explaining_leaves_the_shared_model_alone_while_others_run_it():
    """Sessions share one model: explanations in threads while other threads run plain forward passes give the
    same maps as alone, the others' outputs are unchanged, and no hook or flag is left on the shared model."""
    lm = models.load_model("vit", pretrained=False)
    flags = [b.attn.fused_attn for b in lm.net.blocks]
    img = images.load_sample("shapes")
    alone = explain.explain(lm, img)
    x = lm.preprocess(img)
    with torch.inference_mode():
        plain = lm.net(x)
    errors, maps, outs = [], [], []

    def explainer():
        try:
            maps.append(explain.explain(lm, img).maps)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def runner():
        try:
            for _ in range(5):
                with torch.inference_mode():
                    outs.append(lm.net(x))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=f) for f in (explainer, runner, explainer, runner)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for m in maps:
        for method in alone.maps:
            np.testing.assert_allclose(m[method], alone.maps[method], atol=1e-5)
    for o in outs:
        torch.testing.assert_close(o, plain)
    assert all(not mod._forward_hooks and not mod._forward_pre_hooks for mod in lm.net.modules())
    assert [b.attn.fused_attn for b in lm.net.blocks] == flags


def test_a_class_out_of_range_is_refused_with_a_message():
    with pytest.raises(explain.ExplainError, match="class 12"):
        explain.explain(region_model(), textured(), class_idx=12)



def test_only_the_class_specific_maps_move_when_the_class_changes():
    """The star-and-cross scene, explained for "star" and for "cross": the ViT's attention and rollout do not
    depend on the class (they never see it), Grad-CAM and relevance do: for each class, more of their 64 strongest
    pixels lie on that class's object than on the other one."""
    lm = models.load_model("vit")
    img = images.load_sample("star and cross (64×64)")  # star: 20 px at (5, 6); cross: 20 px at (37, 36)
    boxes = {"star": (slice(6, 26), slice(5, 25)), "cross": (slice(36, 56), slice(37, 57))}
    e = {c: explain.explain(lm, img, class_idx=lm.class_names.index(c)) for c in boxes}
    for method in ("attention", "rollout"):
        np.testing.assert_array_equal(e["star"].maps[method], e["cross"].maps[method])
    def share_on(m, box):
        on = np.zeros_like(m, dtype=bool)
        on[box] = True
        return on.reshape(-1)[np.argsort(-m.reshape(-1))[:64]].mean()

    for method in ("gradcam", "relevance"):
        for cls, other in (("star", "cross"), ("cross", "star")):
            m = e[cls].maps[method]
            assert share_on(m, boxes[cls]) > share_on(m, boxes[other]), (method, cls)


def test_a_timm_vit_with_extra_prefix_tokens_is_explained_on_its_own_grid():
    """Prefix tokens and grid come from the model: a ViT with a class token and two register tokens, 32 px input,
    patch 8 -> a 4x4 grid; every map covers the patches only."""
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    net = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=3,
                            reg_tokens=2).eval()
    lm = models.LoadedModel("reg", net, "vit", (32, 32), list("abc"), (0.5,) * 3, (0.5,) * 3)
    e = explain.explain(lm, textured(), class_idx=1)
    assert set(e.maps) == set(explain.VIT_METHODS)
    for method in explain.VIT_METHODS:
        assert e.maps[method].shape == (32, 32) and e.native[method].shape == (4, 4), method
        assert e.maps[method].min() == 0 and e.maps[method].max() == pytest.approx(1.0), method
    a = att.attention_maps(net, lm.preprocess(textured()))[0]
    ref = explain.stretched(a[-1].mean(0)[0, 3:].reshape(4, 4), (4, 4))  # class token's row, registers dropped
    np.testing.assert_allclose(e.native["attention"], ref, atol=1e-5)
