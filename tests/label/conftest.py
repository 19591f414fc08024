"""Label tests run tblite single-threaded: the machine is shared."""

from __future__ import annotations

import os

# Read by tblite's OpenMP runtime when it loads, which happens inside the tests.
os.environ.setdefault("OMP_NUM_THREADS", "1")
