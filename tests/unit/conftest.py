"""Let the test modules import their helper (_load) under ansible-test units too, which imports them as a package."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
