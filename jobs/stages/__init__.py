"""One module per maintenance stage, with its ``run(ctx) -> StageOutcome``; each stage declares
itself, its settings and the rights it needs in ``declared/<stage>.py`` (``jobs.stages.registry``),
which imports the implementation only when the stage runs.

A stage says what to do; the gateway (``jobs.susdb``) and ``sql/`` say how to say it to SQL
Server; the runner decides when to stop.
"""
