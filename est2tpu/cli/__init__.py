"""The est2tpu command line: finding files, configuration, notebooks, reports.

It never imports TensorFlow; the engine it runs is :mod:`est2tpu.codemods`.
"""
