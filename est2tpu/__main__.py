import sys

from est2tpu.cli.main import main

sys.exit(main())
