"""``est2tpu verify``, the TensorFlow side: TPUEstimator's TPU graphs built and checked on the CPU.

Loaded into the program ``est2tpu verify`` runs (by ``boot/sitecustomize.py``, once the
program imports TPUEstimator) or into a test (:func:`est2tpu.verify.install.install`).
The modules: ``install`` (the patches), ``estimator`` (TPUEstimator's methods under
verify), ``build`` and ``capture`` (one mode's TPU graph and what went into it), the
checks (``input_checks``, ``spec_checks``, ``graph_checks``, ``xla_step``), ``report``
and ``locate`` (findings and their place in the user's code), ``rules`` (their codes).
``settings``, ``report``, ``locate`` and ``rules`` import no TensorFlow.
"""
