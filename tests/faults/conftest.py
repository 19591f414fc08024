"""The fault tests run their calculators single-threaded: the machine is shared."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Worker processes import the fault injectors by module name.
sys.path.insert(0, str(Path(__file__).parent))
