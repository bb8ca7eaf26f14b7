"""``python -m kubetask`` is the ``kubetask`` command."""

import sys

from kubetask._cli import main

sys.exit(main())
