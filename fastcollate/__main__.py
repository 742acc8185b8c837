import sys

from fastcollate.cli import main

sys.exit(main())
