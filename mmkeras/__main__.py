import sys

from mmkeras.cli import main

sys.exit(main())
