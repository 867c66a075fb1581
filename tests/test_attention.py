"""core.attention against independent facts: explicit softmax(q k^T / sqrt(d)) from the block's own weights,
timm's AttentionExtract, hand-computed rollouts and distances, numpy loops."""
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import ParallelScalingBlock, ResPostBlock, VisionTransformer

from core import attention as att
from core import models
from core import pictures

SMALL = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5)


def _vit(kind: str, fused: bool = True) -> torch.nn.Module:
    torch.manual_seed({"plain": 0, "distilled": 1, "registers": 2, "qknorm": 3, "respost": 4, "wide": 5}[kind])
    if kind == "plain":
        net = VisionTransformer(**SMALL)
    elif kind == "distilled":
        net = VisionTransformerDistilled(**SMALL)
    elif kind == "registers":
        net = VisionTransformer(**{**SMALL, "img_size": 48, "patch_size": 16}, reg_tokens=4, no_embed_class=True)
    elif kind == "qknorm":
        net = VisionTransformer(**SMALL, qk_norm=True)
    elif kind == "respost":
        net = VisionTransformer(**SMALL, block_fn=ResPostBlock)
    else:  # a non-square grid: 4 rows x 6 columns
        net = VisionTransformer(**{**SMALL, "img_size": (32, 48)})
    for blk in net.blocks:
        blk.attn.fused_attn = fused
    # random init leaves q_norm/k_norm as identity-affine LayerNorms; perturb them so they matter
    for m in net.modules():
        if isinstance(m, torch.nn.LayerNorm):
            with torch.no_grad():
                m.weight.add_(0.3 * torch.randn_like(m.weight))
                m.bias.add_(0.1 * torch.randn_like(m.bias))
    return net.eval()


def _input(net, batch=2, seed=10):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *net.patch_embed.img_size, generator=g)


def _explicit_attention(net, x):
    """Reference: capture each attention module's real input with a pre-hook (test-owned model), then
    compute softmax(q k^T / sqrt(d)) with plain matmuls from the qkv weights."""
    inputs = []
    handles = [blk.attn.register_forward_pre_hook(lambda m, args: inputs.append(args[0].clone()))
               for blk in net.blocks]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    out = []
    for blk, y in zip(net.blocks, inputs):
        at = blk.attn
        H = at.num_heads
        d = at.qkv.weight.shape[0] // 3 // H
        qkv = y @ at.qkv.weight.T + (at.qkv.bias if at.qkv.bias is not None else 0)
        q, k, _ = qkv.split(H * d, dim=-1)
        B, N, _ = y.shape
        q = q.reshape(B, N, H, d).transpose(1, 2)
        k = k.reshape(B, N, H, d).transpose(1, 2)
        if isinstance(at.q_norm, torch.nn.LayerNorm):
            q = F.layer_norm(q, (d,), at.q_norm.weight, at.q_norm.bias, at.q_norm.eps)
            k = F.layer_norm(k, (d,), at.k_norm.weight, at.k_norm.bias, at.k_norm.eps)
        scores = q @ k.transpose(-1, -2) / np.sqrt(d)
        out.append(torch.softmax(scores, dim=-1))
    return torch.stack(out, 1)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("kind, prefix, tokens", [("plain", 1, 17), ("distilled", 2, 18), ("registers", 5, 14),
                                                  ("qknorm", 1, 17), ("respost", 1, 17), ("wide", 1, 25)])
def test_attention_maps_equal_explicit_softmax(kind, prefix, tokens, fused):
    net = _vit(kind, fused)
    x = _input(net)
    got = att.attention_maps(net, x)
    ref = _explicit_attention(net, x)
    assert got.shape == (2, 2, 2, tokens, tokens)
    assert att.vit_geometry(net).num_prefix_tokens == prefix
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got.sum(-1), torch.ones(2, 2, 2, tokens))


def test_attention_maps_equal_timm_attention_extract():
    from timm.utils import AttentionExtract

    net = _vit("distilled", fused=False)
    x = _input(net)
    extracted = AttentionExtract(net, method="fx")(x)  # {name: [B, H, N, N]} from the model's own softmax
    ref = torch.stack(list(extracted.values()), dim=1)
    torch.testing.assert_close(att.attention_maps(net, x), ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", ["plain", "distilled", "registers"])
def test_logits_are_the_models_output(kind):
    net = _vit(kind)
    x = _input(net)
    _, logits = att.attention_and_logits(net, x)
    with torch.no_grad():
        torch.testing.assert_close(logits, net(x))


def _hooks(net):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in net.modules())


def test_extraction_leaves_shared_model_unchanged():
    net = _vit("plain", fused=True)
    x = _input(net)
    flags = [blk.attn.fused_attn for blk in net.blocks]
    state = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        before = net(x)
    att.attention_maps(net, x)
    assert _hooks(net) == 0
    assert [blk.attn.fused_attn for blk in net.blocks] == flags
    assert not net.training
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    with torch.no_grad():
        assert torch.equal(net(x), before)


def test_thread_safe_on_one_shared_module():
    net = _vit("distilled")
    inputs = [_input(net, batch=2, seed=s) for s in range(6)]
    expected = [att.attention_maps(net, x) for x in inputs]
    results, errors = [None] * 6, []
    barrier = threading.Barrier(6)

    def work(i):
        try:
            barrier.wait()
            for _ in range(5):
                results[i] = att.attention_maps(net, inputs[i])
                assert torch.equal(results[i], expected[i])
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for got, exp in zip(results, expected):
        assert torch.equal(got, exp)
    assert _hooks(net) == 0


def test_unsupported_models_get_a_typed_error():
    odd = VisionTransformer(**SMALL, block_fn=ParallelScalingBlock).eval()
    with pytest.raises(att.AttentionError, match="ParallelScalingBlock") as raised:
        att.attention_maps(odd, torch.zeros(1, 3, 32, 32))
    assert raised.value.message.key == "error.attention.block"
    assert raised.value.message.text("zh").startswith("无法从 ParallelScalingBlock 模块")
    from timm.models.resnet import BasicBlock, ResNet
    cnn = ResNet(BasicBlock, [1, 1, 1, 1]).eval()
    with pytest.raises(att.AttentionError, match="not a Vision Transformer") as raised:
        att.attention_maps(cnn, torch.zeros(1, 3, 32, 32))
    assert raised.value.message.text("zh") == "ResNet 不是 Vision Transformer：它没有可显示的注意力"
    with pytest.raises(att.AttentionError):
        att.vit_geometry(cnn)


def test_geometry_is_read_from_the_model():
    g = att.vit_geometry(_vit("wide"))
    assert (g.grid_size, g.patch_size, g.num_prefix_tokens, g.num_tokens) == ((4, 6), (8, 8), 1, 25)
    g = att.vit_geometry(_vit("registers"))
    assert (g.grid_size, g.patch_size, g.prefix_names) == ((3, 3), (16, 16), ("CLS", "REG1", "REG2", "REG3", "REG4"))
    assert str(g.token_name(5)) == "patch 1 (row 1, col 1)" and str(g.token_name(13)) == "patch 9 (row 3, col 3)"
    assert g.token_name(13).text("zh") == "图像块 9（第 3 行，第 3 列）"
    assert str(g.token_name(0)) == g.token_name(0).text("zh") == "CLS" and str(g.token_name(4)) == "REG4"
    dyn = VisionTransformer(**SMALL, dynamic_img_size=True).eval()
    assert att.vit_geometry(dyn, (48, 64)).grid_size == (6, 8)
    assert att.attention_maps(dyn, torch.zeros(1, 3, 48, 64)).shape[-1] == 1 + 48


# ---------------------------------------------------------------- rollout, by hand


def test_rollout_of_identity_attention_is_identity():
    attn = torch.eye(5).expand(3, 2, 5, 5)
    torch.testing.assert_close(att.rollout(attn), torch.eye(5))
    torch.testing.assert_close(att.rollout(attn, discard_ratio=0.5), torch.eye(5))


def test_rollout_two_layers_by_hand():
    a1 = torch.tensor([[0.5, 0.5], [0.0, 1.0]])
    a2 = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    # layer i: (A + I) / 2, rows already sum to 1
    s1 = np.array([[0.75, 0.25], [0.0, 1.0]])
    s2 = np.array([[1.0, 0.0], [0.25, 0.75]])
    expected = s2 @ s1  # [[0.75, 0.25], [0.1875, 0.8125]]
    attn = torch.stack([a1, a2])[:, None]  # [L=2, H=1, 2, 2]
    torch.testing.assert_close(att.rollout(attn), torch.tensor(expected, dtype=torch.float32))


def test_rollout_head_fusion_by_hand():
    h1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    h2 = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    attn = torch.stack([h1, h2])[None]  # [L=1, H=2]
    # mean: [[.5,.5],[.5,.5]] -> (A+I)/2 = [[.75,.25],[.25,.75]]
    torch.testing.assert_close(att.rollout(attn, "mean"), torch.tensor([[0.75, 0.25], [0.25, 0.75]]))
    # max: all ones -> (A+I)/2 = [[1, .5], [.5, 1]] -> rows / 1.5
    torch.testing.assert_close(att.rollout(attn, "max"), torch.tensor([[2 / 3, 1 / 3], [1 / 3, 2 / 3]]))
    # min: all zeros -> identity
    torch.testing.assert_close(att.rollout(attn, "min"), torch.eye(2))
    with pytest.raises(att.AttentionError):
        att.rollout(attn, "median")


def test_rollout_discard_by_hand_never_touches_prefix_entry():
    a = torch.tensor([[0.01, 0.5, 0.49], [0.2, 0.35, 0.45], [0.6, 0.1, 0.3]])
    # discard int(0.34 * 9) = 3 smallest, skipping the CLS-CLS entry 0.01: 0.1, 0.2, 0.3
    expected = torch.tensor([[0.505, 0.25, 0.245], [0.0, 0.75, 0.25], [0.375, 0.0, 0.625]])
    torch.testing.assert_close(att.rollout(a[None, None], discard_ratio=0.34), expected)
    # the same entry is the smallest again after two layers: still kept
    out = att.rollout(a.expand(2, 1, 3, 3), discard_ratio=0.34)
    assert out[0, 0] > 0.25
    # two prefix tokens: the whole 2x2 prefix block is protected
    b = torch.tensor([[0.02, 0.01, 0.97], [0.03, 0.04, 0.93], [0.5, 0.3, 0.2]])
    # unprotected, smallest 2 (int(0.25 * 9)): 0.2 (2,2) and 0.3 (2,1)
    out = att.rollout(b[None, None], discard_ratio=0.25, num_prefix_tokens=2)
    expected_row2 = np.array([0.5, 0.0, 1.0]) / 1.5
    np.testing.assert_allclose(out[2].numpy(), expected_row2, rtol=1e-6)
    np.testing.assert_allclose(out[0].numpy(), np.array([1.02, 0.01, 0.97]) / 2.0, rtol=1e-6)


def test_rollout_batched_equals_per_image():
    attn = torch.rand(3, 2, 2, 6, 6).softmax(-1)
    together = att.rollout(attn, "max", 0.3)
    for b in range(3):
        torch.testing.assert_close(together[b], att.rollout(attn[b], "max", 0.3))


# ---------------------------------------------------------------- mean attention distance


def _neighbour_attention(gh, gw, prefix, to_prefix=0.0, step=(0, 1)):
    n = prefix + gh * gw
    a = torch.zeros(n, n)
    a[:prefix, 0] = 1.0
    for r in range(gh):
        for c in range(gw):
            rr = r + step[0] if r + step[0] < gh else r - step[0]  # step back at the far edge
            cc = c + step[1] if c + step[1] < gw else c - step[1]
            q = prefix + r * gw + c
            a[q, 0] = to_prefix
            a[q, prefix + rr * gw + cc] = 1.0 - to_prefix
    return a


def test_attention_to_the_adjacent_patch_is_one_patch_size():
    a = _neighbour_attention(3, 4, prefix=1)
    out = att.mean_attention_distance(a.expand(2, 3, 4, 13, 13), (3, 4), 8, 1)  # B=2, L=3, H=4
    assert out.shape == (3, 4)
    torch.testing.assert_close(out, torch.full((3, 4), 8.0))
    # vertical neighbour of non-square patches: the patch height
    a = _neighbour_attention(3, 4, prefix=2, step=(1, 0))
    torch.testing.assert_close(att.mean_attention_distance(a[None, None], (3, 4), (6, 10), 2),
                               torch.tensor([[6.0]]))
    # half the attention on the class token: no renormalisation, so half the distance
    a = _neighbour_attention(3, 4, prefix=1, to_prefix=0.5, step=(1, 1))
    torch.testing.assert_close(att.mean_attention_distance(a[None, None], (3, 4), 8, 1),
                               torch.tensor([[0.5 * 8 * np.sqrt(2)]], dtype=torch.float32))


def test_mean_attention_distance_matches_numpy_loop():
    g = torch.Generator().manual_seed(3)
    gh, gw, p, ps = 3, 2, 2, 16
    attn = torch.rand(4, 2, 3, p + gh * gw, p + gh * gw, generator=g).softmax(-1)
    a = attn.numpy()
    ref = np.zeros((2, 3))
    for l in range(2):
        for h in range(3):
            total = 0.0
            for b in range(4):
                for i in range(gh * gw):
                    for j in range(gh * gw):
                        (ri, ci), (rj, cj) = divmod(i, gw), divmod(j, gw)
                        total += a[b, l, h, p + i, p + j] * ps * np.hypot(ri - rj, ci - cj)
            ref[l, h] = total / (4 * gh * gw)
    np.testing.assert_allclose(att.mean_attention_distance(attn, (gh, gw), ps, p).numpy(), ref, rtol=1e-5)
    # the batch helper agrees on a model
    net = _vit("distilled")
    x = _input(net, batch=5)
    geo = att.vit_geometry(net)
    whole = att.mean_attention_distance(att.attention_maps(net, x), geo.grid_size, geo.patch_size, 2)
    torch.testing.assert_close(att.attention_distance_over(net, x, chunk=2), whole)
    with pytest.raises(att.AttentionError):
        att.mean_attention_distance(attn, (3, 3), ps, p)


def test_distance_reading_carries_the_numbers_in_each_language():
    dist = torch.tensor([[4.0, 6.0], [10.0, 20.0], [30.0, 2.5]])  # 3 layers x 2 heads: layer means 5, 15, 16.25
    msg = att.distance_reading(dist, 12.34)
    assert msg.key == "attention.distance.reading"
    assert msg.values == {"uniform": 12.34, "first": 5.0, "last": 16.25, "layers": 3, "low": 2.5, "high": 30.0}
    assert str(msg).startswith("Dashed: 12.3 px, what attention spread evenly over all tokens would give. Here the "
                               "layers' means run 5.0 px (layer 1) to 16.2 px (layer 3), heads 2.5–30.0 px.")
    zh = msg.text("zh")
    assert zh.startswith("虚线：12.3 px，即注意力均匀分布在所有 token 上时的值。这里各层的平均值从 5.0 px（第 1 层）"
                         "变到 16.2 px（第 3 层），各注意力头在 2.5–30.0 px 之间。")
    # on a model: the same numbers as the distances it is given
    net = _vit("plain")
    geo = att.vit_geometry(net)
    d = att.attention_distance_over(net, _input(net, batch=3))
    values = att.distance_reading(d, att.uniform_attention_distance(geo.grid_size, geo.patch_size, 1)).values
    assert values["layers"] == 2 and values["first"] == pytest.approx(float(d[0].mean()))
    assert values["low"] == pytest.approx(float(d.min())) and values["high"] == pytest.approx(float(d.max()))


def test_comparison_reading_names_the_extremes_and_whether_any_first_layer_is_local():
    models = [{"model": "a", "locality": 0.10, "learnt_locality": 0.30},
              {"model": "b", "locality": 0.60, "learnt_locality": 0.80},
              {"model": "c", "locality": -0.05, "learnt_locality": 0.02}]
    layers = [{"model": m, "layer": layer, "distance": d} for m, first in (("a", 30.0), ("b", 12.0), ("c", 33.0))
              for layer, d in ((1, first), (2, 20.0))]
    msg = att.comparison_reading(models, layers, uniform=32.0)
    v = msg.values
    assert v["first"] == ("attention.compare.first_spread", {"near": "b", "near_px": 12.0, "far": "c", "far_px": 33.0})
    assert (v["most"], v["most_loc"], v["most_learnt"], v["least"], v["least_loc"]) == ("b", 0.6, 0.8, "c", -0.05)
    assert v["local"] == ("attention.compare.local", {"models": "b"})  # 12 px < half of 32 px; 30 px is not
    assert str(msg).startswith("Layer 1 is most local in b (12.0 px) and least in c (33.0 px), against 32.0 px "
                               "for uniform attention: the first layer of b attends locally on average.")
    assert "第 1 层在 b 中最局部（12.0 像素）" in msg.text("zh")
    far = att.comparison_reading(models, [dict(r, distance=max(r["distance"], 17.0)) for r in layers], uniform=32.0)
    assert far.values["local"].key == "attention.compare.none_local"  # 17 px is over half of 32 px
    assert "in none does the first layer attend locally" in str(far)
    # first layers 1.5 px apart (under 5 % of 32 px = 1.6 px) are alike, not ranked
    alike = att.comparison_reading(models, [dict(r, distance=31.0 + (r["model"] == "a") * 1.5) for r in layers], 32.0)
    assert str(alike).startswith("Layer 1 attends at about the same distance in every model (31.0–32.5 px), "
                                 "against 32.0 px for uniform attention: in none")
    with pytest.raises(ValueError):
        att.comparison_reading([], [], 32.0)


def test_vit_comparison_reads_the_card_and_averages_heads():
    """The embedded ViT's row is its model card's; a layer's distance is the mean of its heads'; the baseline is
    uniform attention over its 8 x 8 patches of 8 px and the class token (a numpy loop); a model that could not be
    loaded and one without a card (random weights) have no row."""
    try:
        trained = models.load_model("vit")
    except models.ModelError as e:
        pytest.skip(f"embedded ViT not available: {e}")
    dist = np.array([[1.0, 3.0], [5.0, 7.0], [2.0, 2.0]])  # 3 layers x 2 heads
    rows, layers, uniform, missing = att.vit_comparison(
        {"gone": None, "vit": (trained, dist), "random": (models.load_model("vit", pretrained=False), dist)})
    card = trained.info
    assert [r["model"] for r in rows] == ["vit"] and missing == ["gone", "random"]
    assert (rows[0]["images"], rows[0]["accuracy"]) == (card["training_set"]["images"],
                                                        card["test_accuracy"]["full_frame"])
    assert layers == [{"model": "vit", "layer": 1, "distance": 2.0}, {"model": "vit", "layer": 2, "distance": 6.0},
                      {"model": "vit", "layer": 3, "distance": 2.0}]
    centres = np.array([(r, c) for r in range(8) for c in range(8)], dtype=float)
    by_hand = np.mean([sum(8 * np.hypot(*(p - q)) for q in centres) / 65 for p in centres])
    assert uniform == pytest.approx(by_hand)
    nobody = att.vit_comparison({"gone": None})
    assert nobody[:2] == ([], []) and np.isnan(nobody[2]) and nobody[3] == ["gone"]


# ---------------------------------------------------------------- Fig. 7, predictions, CAM


def test_pos_embed_similarity_matches_numpy():
    for kind in ("wide", "registers"):
        net = _vit(kind)
        geo = att.vit_geometry(net)
        gh, gw = geo.grid_size
        pe = net.pos_embed.detach()[0].numpy()[-gh * gw:]
        sim = att.pos_embed_similarity(net)
        assert sim.shape == (gh, gw, gh, gw)
        for i in range(gh * gw):
            for j in range(gh * gw):
                cos = pe[i] @ pe[j] / (np.linalg.norm(pe[i]) * np.linalg.norm(pe[j]))
                assert abs(sim[i // gw, i % gw, j // gw, j % gw].item() - cos) < 1e-5


def test_patch_embed_pca_matches_covariance_eigenvectors():
    net = _vit("plain")  # 32 filters of 3x8x8
    comps, ratio = att.patch_embed_pca(net, k=28)
    assert comps.shape == (28, 3, 8, 8)
    w = net.patch_embed.proj.weight.detach().double().reshape(32, -1).numpy()
    cov = np.cov(w, rowvar=False)
    vals, vecs = np.linalg.eigh(cov)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    for i in range(5):
        assert abs(abs(float(comps[i].reshape(-1).double().numpy() @ vecs[:, i])) - 1) < 1e-4
    np.testing.assert_allclose(ratio[:5].numpy(), vals[:5] / vals.sum(), rtol=1e-4)
    # fewer filters than 28: only as many components as the data has directions
    tiny = VisionTransformer(img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=2)
    assert att.patch_embed_pca(tiny, k=28)[0].shape[0] == 7
    rgb = pictures.filters_to_rgb(comps)
    assert rgb.shape == (28, 8, 8, 3) and rgb.min() == 0 and rgb.max() == 1


def test_top_k_by_hand():
    probs = torch.tensor([0.1, 0.5, 0.05, 0.3, 0.05])
    assert models.top_k(probs, list("abcde"), k=3) == [("b", 0.5), ("d", pytest.approx(0.3)), ("a", pytest.approx(0.1))]
    assert len(models.top_k(probs, list("abcde"), k=10)) == 5


def test_query_map_and_overlay():
    net = _vit("wide")
    geo = att.vit_geometry(net)
    layer = torch.zeros(geo.num_tokens, geo.num_tokens)
    layer[0, 1 + 2 * 6 + 5] = 1.0  # CLS looks at row 3, col 6
    m = att.query_map(layer, 0, geo)
    assert m.shape == (4, 6) and m[2, 5] == 1 and m.sum() == 1
    img = torch.rand(3, 32, 48)
    out = pictures.overlay(img, m, alpha=0.0)
    torch.testing.assert_close(out, img.permute(1, 2, 0))
    assert pictures.overlay(img, m).shape == (32, 48, 3)
