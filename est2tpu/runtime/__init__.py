"""What migrated programs import: where the TPU is, the TPU-aware converters and input_fns.

Reached through the lazy names of :mod:`est2tpu` (``est2tpu.use_tpu()``, ...).
"""
