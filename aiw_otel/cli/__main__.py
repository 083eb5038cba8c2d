"""`python -m aiw_otel.cli`: the same as the `aiw-otel` script."""

import sys

from aiw_otel.cli import main

sys.exit(main())
