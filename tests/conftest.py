"""The tests run with est2tpu's cache of clean files off (it would add .est2tpu_cache/ to the
trees they compare); tests/test_cache.py turns it on where it is the subject."""

import os

os.environ.setdefault("EST2TPU_NO_CACHE", "1")
