"""core.bias_pairs, the bias page's CNN and ViT measured side by side, against hand-made cases and the models' own
parameters; and core.biases_reading, the sentences that word those measurements, on hand-made results."""
import pandas as pd
import torch

from core import bias_pairs, biases_reading, shapes
from core.biases import ORDER_FREE
from core.models import build_embedded


class Named:
    def __init__(self, class_names):
        self.class_names = class_names


def test_only_a_model_of_the_shapes_classes_in_their_order_scores_the_probe():
    assert bias_pairs.scores_shapes(Named(list(shapes.CLASSES)))
    assert not bias_pairs.scores_shapes(Named(list(reversed(shapes.CLASSES))))
    assert not bias_pairs.scores_shapes(Named([f"class {i}" for i in range(1000)]))


def test_the_pairs_parameter_counts_come_from_the_models():
    cnn, vit = build_embedded("resnet"), build_embedded("vit")
    sharing = bias_pairs.pair_sharing(cnn, vit)
    # the embedded ViT is built with embed_dim 96 and mlp_ratio 2 (core.models)
    assert sharing["vit_dim"] == 96 and sharing["counts"]["vit_block"] == sum(p.numel() for p in vit.blocks[3].parameters())
    assert sharing["n_cnn"] == sum(p.numel() for p in cnn.parameters())
    assert sharing["n_vit"] == sum(p.numel() for p in vit.parameters())


def test_the_sharing_reading_says_which_model_is_larger():
    counts = {"conv": 448, "local": 1_835_008}
    more = biases_reading.sharing_reading({"counts": counts, "n_cnn": 1_000, "n_vit": 2_500}, "a", "b").text("en")
    assert more.startswith("b has 2,500 parameters, 2.5× the 1,000 of a: as the article says, the ViT has more.")
    fewer = biases_reading.sharing_reading({"counts": counts, "n_cnn": 3_000, "n_vit": 2_500}, "a", "b").text("en")
    assert fewer.startswith("b has 2,500 parameters, fewer than the 3,000 of a") and "1,835,008" in fewer


def _locality(stages: int) -> dict:
    """A hand-made pair_locality: CNN radii 1, 2, ... by stage (untrained: 10x), ViT attention radii 30, 31, ...
    by layer (untrained 40), rollout 50; the 50 % radius half the 90 % one."""
    def cnn(scale):
        return [{"stage": s if stages > 1 else None, "r50": scale * (s + 1) / 2, "r90": scale * (s + 1)}
                for s in range(stages)]

    def vit(base):
        return [{"layer": k + 1, "attention_r50": (base + k) / 2, "attention_r90": base + k, "rollout_r50": 25,
                 "rollout_r90": 50} for k in range(3)]
    return {"cnn": cnn(1), "cnn_untrained": cnn(10), "vit": vit(30), "vit_untrained": vit(40)}


def test_locality_radii_give_one_row_per_map_depth_weights_and_share():
    rows = pd.DataFrame(bias_pairs.locality_radii(_locality(5)))
    # 5 CNN stages and 3 ViT layers, trained and untrained, plus the trained ViT's rollout: (5*2 + 3*2 + 3) x 2
    assert len(rows) == (5 * 2 + 3 * 2 + 3) * 2
    one = rows.set_index(["map", "depth", "trained", "share"])["radius"]
    assert one["erf", 4, True, 90] == 5 and one["erf", 4, False, 90] == 50 and one["erf", 0, True, 50] == 0.5
    assert one["attention", 2, True, 90] == 31 and one["attention", 2, False, 50] == 20.5
    assert one["rollout", 3, True, 90] == 50 and not (rows["map"].eq("rollout") & ~rows["trained"]).any()


def test_the_locality_reading_quotes_the_first_and_last_depths():
    text = biases_reading.locality_reading(_locality(5)).text("en")
    assert text.startswith("Trained, the CNN's 90 % radius grows from 1.0 px at its stem to 5.0 px after stage 4 "
                           "(untrained, the stem's is 10.0 px)")
    assert "within 30.0 px in layer 1 and 32.0 px in layer 3 (untrained: 40.0 px)" in text
    last = biases_reading.locality_reading(_locality(1)).text("en")  # a CNN that is no ResNet: its last map only
    assert last.startswith("Trained, this CNN's last feature map has a 90 % radius of 1.0 px (untrained: 10.0 px)")


def test_the_cka_reading_finds_each_layers_most_similar_stage():
    cnn_vit = torch.tensor([[0.9, 0.1, 0.2], [0.3, 0.2, 0.8], [0.1, 0.7, 0.3]])  # stages x layers
    vit_vit = torch.tensor([[1.0, 0.6, 0.1], [0.6, 1.0, 0.8], [0.1, 0.8, 1.0]])
    text = biases_reading.cka_reading({"cnn_vit": cnn_vit, "vit_vit": vit_vit}).text("en")
    assert "layer 1 ↔ stage 0 (0.90)" in text and "layer 2 ↔ stage 2 (0.70)" in text and "layer 3 ↔ stage 1 (0.80)" in text
    assert "mean CKA of 0.70; its first and last layer 0.10" in text  # (0.6 + 0.8) / 2


def _order_rows(vit_shuffled: float) -> pd.DataFrame:
    acc = {("shuffle", 1): {"cnn": 0.9, "vit": 0.95, "vit_zero": 0.5, "vit_permuted": 0.6},
           ("shuffle", 8): {"cnn": 0.2, "vit": vit_shuffled, "vit_zero": 0.5, "vit_permuted": 0.6},
           ("drop", 0.0): {"cnn": 0.9, "vit": 0.95, "vit_black": 0.95},
           ("drop", 0.9): {"cnn": 0.1, "vit": 0.3, "vit_black": 0.2}}
    return pd.DataFrame([{"who": w, "test": test, "x": x, "accuracy": a} for (test, x), by in acc.items()
                         for w, a in by.items()])


def test_the_order_reading_says_whether_the_vit_uses_where_its_patches_are():
    free = biases_reading.order_reading(_order_rows(0.95 - ORDER_FREE + 0.01)).text("en")
    assert free.startswith("Shuffling the 8×8 tiles takes the CNN from 90% to 20% and the ViT from 95% to 91%: "
                           "**the ViT hardly uses where its patches are**")
    assert "zeroed the ViT scores 50%, permuted 60%" in free
    assert "With 90% of the patches dropped: CNN (blacked out) 10%, ViT (tokens removed) 30%." in free
    used = biases_reading.order_reading(_order_rows(0.95 - ORDER_FREE - 0.01)).text("en")
    assert "both use where the patches are" in used
