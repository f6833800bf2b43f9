import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
FIXTURES = pathlib.Path(__file__).parent / "fixtures"
sys.path.insert(0, str(pathlib.Path(__file__).parent))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def fixtures_dir():
    return FIXTURES


@pytest.fixture(scope="session")
def official_model():
    """The official config loaded with the random-weight official checkpoint (built once)."""
    pytest.importorskip("torch")
    from tga_keras.convert import from_torch

    return from_torch(FIXTURES / "official_tga_random_seed0.pth")
