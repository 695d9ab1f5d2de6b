"""`python -m bench`: run every scenario and write bench/results.json (QUICK=1 for a short run)."""

from __future__ import annotations

import sys

from bench.run import main

sys.exit(main())
