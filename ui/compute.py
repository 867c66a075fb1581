"""Imported by every ui module that computes with torch, so torch is configured before its first use (and the
home page, which never computes, does not pay for importing it)."""
import os

import torch

# One intra-op thread per computation: sessions run in parallel threads, and on a small server (2 cores here,
# 1-2 on Community Cloud) two torch threads per session fight each other and get several times slower.
torch.set_num_threads(int(os.environ.get("IBL_TORCH_THREADS", "1")))
