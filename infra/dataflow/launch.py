"""Flex-template entry point: the template parameters arrive as command-line flags.

Example (what the launcher runs)::

    python launch.py --input gs://b/logs/** --output gs://b/aiops --runner DataflowRunner ...
"""

import sys

from aiops.cli import main

if __name__ == "__main__":
    sys.exit(main(["batch", *sys.argv[1:]]))
