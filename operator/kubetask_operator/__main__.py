"""``python -m kubetask_operator``: the same as the ``kubetask-operator`` console script."""

from __future__ import annotations

import sys

from kubetask_operator._main import main

if __name__ == "__main__":
    sys.exit(main())
