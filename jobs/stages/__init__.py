"""One module per maintenance stage; each declares itself with ``@stage(...)`` on its
``run(ctx) -> StageOutcome`` (``jobs.stages.registry``).

A stage says what to do; the gateway (``jobs.susdb``) and ``sql/`` say how to say it to SQL
Server; the runner decides when to stop.
"""
