import sys

from alstrategies.cli import main

sys.exit(main())
