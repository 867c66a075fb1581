"""Home: the ideas the app shows, each linked to the page that shows it."""
from pathlib import Path

import streamlit as st

from core.card import model_card
from ui import require_entry

require_entry()

st.title("Inductive Bias Lab")
st.markdown(
    "A CNN and a Vision Transformer can both learn to recognise objects, but they start from different "
    "assumptions about images. Those built-in assumptions are the **inductive bias** of an architecture: "
    "what it believes before it has seen any data. This lab lets you *see* them, with small models trained "
    "by this project (they run offline) and any timm model whose weights you have."
)

st.image(str(Path(__file__).resolve().parents[1] / "ui" / "home.png"), width=700)  # python -m ui.home_picture

left, right = st.columns(2, gap="large")
with left:
    st.subheader("CNN: locality, weight sharing, hierarchy")
    st.markdown(
        "- **Locality**: each output looks at a small window (the kernel) of the input.\n"
        "- **Weight sharing**: the same kernel slides over every position, so a pattern is detected "
        "the same way wherever it appears.\n"
        "- **Hierarchy**: stacked layers and downsampling grow the receptive field, from edges to parts "
        "to objects."
    )
    st.subheader("Equivariance vs invariance")
    st.markdown(
        "Convolution is **translation equivariant**: shift the input and the feature map shifts with it, "
        "$f(T x) = T f(x)$. Global pooling then throws position away, so $g = \\text{pool} \\circ f$ is "
        "**invariant**: $g(T x) = g(x)$. Borders, strides and pooling break the exact symmetry. Anti-aliasing "
        "restores it only partly (\"a partial solution at best\", Azulay & Weiss 2019), and circular padding "
        "helps only with circular shifts. The small CNN here is not shift-invariant: its last feature map is 2×2, "
        "and zero padding tells it where the border is (Kayhan & van Gemert 2020)."
    )
    st.page_link("pages/equivariance.py", label="Shift, convolve, compare: the equivariance page", icon=":material/compare_arrows:")
    st.page_link("pages/sensitivity.py", label="Slide an object across the frame: the sensitivity page",
                 icon=":material/show_chart:")
with right:
    st.subheader("ViT: patches and position embeddings")
    st.markdown(
        "A ViT cuts the image into fixed-size **patches**, turns each into a token (a \"word\"), adds a "
        "learned **position embedding**, and lets every token attend to every other one from the first "
        "layer on. Nothing in the architecture says that neighbouring patches are related, or that a "
        "shifted object is the same object: it must learn that from data."
    )
    st.subheader("What a trained ViT learns")
    st.markdown(
        "In the ViT paper (Dosovitskiy et al. 2021, Fig. 7; large ViTs pre-trained on 300M images):\n"
        "- **Global relations**: some heads attend far away already in the lowest layers, others stay local; "
        "the *mean attention distance* grows with depth.\n"
        "- **Spatial structure** from position embeddings: nearby positions end up with similar embeddings.\n"
        "- **Features from low to high level**: the patch-embedding filters resemble basis functions for the "
        "fine structure of a patch.\n\n"
        "The attention page measures the same things on the small ViT trained here, against the value that "
        "evenly spread attention would give; the data page shows how they change with the amount of data."
    )
    st.page_link("pages/attention.py", label="Patches, attention maps, rollout, Fig. 7: the attention page",
                 icon=":material/grid_view:")
    st.subheader("Why ViTs need more data")
    st.markdown(
        "With weaker biases, a ViT has to learn locality and translation from examples. In the ViT paper, "
        "ViT-B/32 did much worse than a ResNet-50 after pre-training on 9M images but better from 90M on. "
        "The data page trains both architectures here on growing training sets and tests models that only saw "
        "objects in the centre on new positions."
    )
    st.page_link("pages/data.py", label="Accuracy vs data and vs position: the data page", icon=":material/bar_chart:")

st.divider()
card = model_card()["models"]
if card:
    st.subheader("The embedded models")
    st.caption("Trained on procedural shapes (64×64) by `python -m core.train`; test accuracy on 2,000 held-out "
               "images with objects anywhere in the frame, and with objects near the centre.")
    st.dataframe(
        [{"model": n, "architecture": c["timm_class"].rsplit(".", 1)[-1],
          "parameters": f"{c['parameters'] / 1e6:.2f} M", "MFLOPs / image": round(c["flops_per_image"] / 1e6, 1), "trained on": c["training_set"]["region"],
          "accuracy, full frame": f"{c['test_accuracy']['full_frame']:.1%}",
          "accuracy, centre": f"{c['test_accuracy']['center']:.1%}"} for n, c in card.items()],
        hide_index=True, width="stretch")
else:
    st.warning("The embedded model weights are missing: run `python -m core.train` to make them.")
