"""``plan --show-sql``: the T-SQL a run sends, rendered from the real code path.

Like alembic's offline mode, but recorded rather than described: the run's own plan (profile,
stages, options) is executed against a throwaway simulated SUSDB built so that every branch has
work (superseded, expired and obsolete updates, old revisions, silent computers, sync history,
fragmented indexes, no custom indexes, WSUS's original spDeleteUpdate), and every statement any
executor sends is recorded. Each stage's statements are printed once, in the order first sent,
with the parameters of that first send (statements sent once per item say so). Nothing touches a
real server and no description is kept by hand, so this cannot drift from what a run sends.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from jobs import events
from jobs.db.catalog import statement
from jobs.db.executor import RECORDING
from jobs.runner.plan import Plan
from jobs.runner.run import execute_plan
from jobs.settings.model import Settings, SimulatorTarget
from jobs.stages import registry

Recorded = list[tuple[str | None, str, list[Any]]]
THROWAWAY = "show-sql"
EXTERNAL = "(no SQL)"  # recorded for a stage that acts on the WSUS host, not through SQL


def record(settings: Settings, make_plan: Any) -> Recorded:
    """Run ``make_plan(settings, target)`` against a throwaway simulated SUSDB; return every
    statement sent, as (stage, statement name, parameters)."""
    from jobs.simulator import create
    from jobs.simulator.catalog import preset_profile

    with tempfile.TemporaryDirectory(prefix="susdb-maint-show-sql-") as directory:
        root = Path(directory)
        sim = root / "throwaway.sqlite3"
        create(sim, preset_profile("neglected", updates=600, seed=7, backup_age_hours=1.0))
        targets = {THROWAWAY: SimulatorTarget(kind="simulator", path=str(sim))}
        # Backups of the throwaway go to a throwaway folder: never the administrator's.
        backup = settings.backup.model_copy(update={"directory": str(root / "backups")})
        (root / "backups").mkdir()
        throwaway = settings.model_copy(
            update={"targets": targets, "default_target": THROWAWAY, "backup": backup}
        )
        plan: Plan = make_plan(throwaway, THROWAWAY)
        # The whole plan runs (no window, no budget), but nothing that acts outside SQL: such a
        # stage is recorded as sending nothing.
        external = [name for name in plan.stages if registry.get(name).external]
        plan = replace(
            plan,
            until=None,
            max_duration_minutes=None,
            stage_budgets={},
            stages=[name for name in plan.stages if name not in external],
        )
        recorded: Recorded = []
        token = RECORDING.set(recorded)
        with open(os.devnull, "w", encoding="utf-8") as quiet:
            events.configure(log_format="json", level="error", stream=quiet)
            try:
                execute_plan(plan, root / "state")
            finally:
                RECORDING.reset(token)
    return recorded + [(name, EXTERNAL, []) for name in external]


def render(recorded: Recorded) -> str:
    """Each stage's statements once, in the order first sent, with their first parameters."""
    lines: list[str] = []
    sections: dict[str, dict[str, list[list[Any]]]] = {}
    for stage, name, params in recorded:
        sections.setdefault(stage or "run", {}).setdefault(name, []).append(params)
    for stage, sent in sections.items():
        lines.append(f"-- ===== {'the run itself' if stage == 'run' else f'stage: {stage}'} =====")
        for name, sends in sent.items():
            if name == EXTERNAL:
                lines.append("-- (no SQL: this stage acts on the WSUS host itself)")
                continue
            spec = statement(name)
            bound = ", ".join(
                f"@{param} = {value!r}"
                for (param, _), value in zip(spec.params, sends[0], strict=False)
            )
            repeat = f" (sent {len(sends)} times in the recorded run)" if len(sends) > 1 else ""
            lines.append(f"-- {name}{repeat}; parameters: {bound or 'none'}")
            for batch in spec.batches:
                lines.append(batch.text)
                lines.append("GO" if batch.repeat == 1 else f"GO {batch.repeat}")
    return "\n".join(lines) + "\n"
