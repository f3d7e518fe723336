"""LibCST codemods that migrate tf.estimator code to TPUEstimator, one module per concern.

Run them all with :func:`codemods.migrate.migrate_code`, the ``est2tpu`` CLI, or
``python -m libcst.tool codemod commands.Migrate PATH`` (with ``codemods`` in the
LibCST config's ``modules``).
"""
