"""What the CLI and the program it runs agree on: the environment variables and defaults.

Imports nothing, so that the CLI (which never imports TensorFlow) can read it cheaply.
"""

import dataclasses

REPORT_ENV = "EST2TPU_VERIFY_REPORT"  # the file the program appends its records to
CORES_ENV = "EST2TPU_VERIFY_CORES"
STEPS_ENV = "EST2TPU_VERIFY_STEPS"


@dataclasses.dataclass(frozen=True)
class Settings:
    cores: int = 8  # the TPU cores TPUEstimator is told it has, on one host
    steps: int = 2  # at most this many steps of each train/evaluate/predict run on the CPU
