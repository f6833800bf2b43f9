"""Where the tests find the checkout's files (one place, whatever folder a test module is in)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
