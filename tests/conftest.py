import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)  # AppTest and the browser test open paths relative to the project root


@pytest.fixture(autouse=True)
def _keep_main_module():
    # Streamlit's script runner (AppTest too) installs the page script as sys.modules["__main__"] and never puts
    # the old one back; a later test that starts a "spawn" process would then re-run that script in the child
    # (or fail on a deleted temporary one).
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main
