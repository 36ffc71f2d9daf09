"""``python -m featherface VERB ...``: the same as the ``featherface`` command."""

import sys

from featherface.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
