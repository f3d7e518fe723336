import sys

from est2tpu.cli import main

sys.exit(main())
