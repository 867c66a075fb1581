"""The embedded models' card, core/weights/model_card.json: readable without importing torch (the home page
shows it, and a first page that skips torch's ~2 s import opens sooner)."""
from __future__ import annotations

import json
from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
MODEL_CARD = WEIGHTS_DIR / "model_card.json"


def model_card() -> dict:
    if not MODEL_CARD.exists():
        return {"models": {}}
    return json.loads(MODEL_CARD.read_text())
