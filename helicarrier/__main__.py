import sys

from helicarrier.cli import main

sys.exit(main())
