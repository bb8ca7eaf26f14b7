"""``python -m kubetask_client`` is the ``kubetask`` command."""

import sys

from kubetask_client._cli import main

sys.exit(main())
