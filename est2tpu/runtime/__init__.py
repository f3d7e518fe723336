"""What migrated programs import: where the TPU is, and the TPU-aware converters.

Reached through the lazy names of :mod:`est2tpu` (``est2tpu.use_tpu()``, ...).
"""
