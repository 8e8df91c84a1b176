"""python -m crboost.simulator PROGRAM [ARGS...]"""

import sys

from .programs import main

sys.exit(main(sys.argv[1:]))
