"""Each stage's declaration, one module per stage: its facts (``@stage``), its settings class and
the rights it needs (``jobs.stages.registry``).

These modules are light: pydantic and ``jobs.settings.fields``, never the runner, the database
layer or the stage's implementation, which the declared ``run(ctx)`` imports only when the stage
runs. The configuration schema (``jobs/settings/model.py``) assembles ``[stages]`` from their
settings classes, and validating a config or listing the stages imports nothing more.
"""
