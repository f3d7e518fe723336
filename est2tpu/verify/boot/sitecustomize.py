"""Started by ``est2tpu verify`` in the program it runs (this directory is on PYTHONPATH).

Arms the verify patches, then runs the ``sitecustomize`` this file hides, if any.
"""

import importlib.machinery
import importlib.util
import json
import os
import sys


def _arm():
    if not os.environ.get("EST2TPU_VERIFY_REPORT"):  # est2tpu.verify.settings.REPORT_ENV
        return
    try:
        from est2tpu.verify import child
    except ImportError as error:  # the program's interpreter lacks est2tpu
        with open(os.environ["EST2TPU_VERIFY_REPORT"], "a", encoding="utf-8") as report:
            report.write(json.dumps({"kind": "error", "message": f"cannot import est2tpu.verify: {error}"}) + "\n")
        return
    child.arm()


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)


_arm()
_chain()
