"""What Configuration Manager deploys, read from its site database for the decline stage.

On an estate run by Configuration Manager, WSUS approvals are not used: software update groups
deploy updates, and a client reports an update WSUS has declined as "not required", so compliance
lies. Configuration Manager's own WSUS cleanup declines superseded updates only after the site's
supersedence waiting period ("months to wait for a superseded update to expire", Software Update
Point component; memdocs software-updates-maintenance). So with ``[configmgr]`` set:

* an update a deployment still targets (``v_UpdateCIs.IsDeployed``) is never declined;
* a deployed update counts as a live superseder, even an unapproved preview;
* a superseded update waits ``supersedence_months`` after its superseder was created.

The site is read once per decline stage, before anything is queued or sent; when it cannot be read
the stage is refused: not knowing what is deployed is not a reason to decline it.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.clock import Clock
from jobs.db.connection import Endpoint
from jobs.db.executor import Executor
from jobs.errors import DatabaseError, SusdbMaintError
from jobs.settings.model import ConfigMgrSettings

# Configuration Manager counts months; a month here is 30 days (Microsoft's 2026 decline script
# converts the same setting to calendar days).
DAYS_PER_MONTH = 30


class SiteUnreadable(Exception):
    """The site database could not be read: the decline stage must not guess."""


@dataclass(frozen=True)
class SiteView:
    """What the site deploys, by WSUS UpdateID (upper case), and its supersedence wait."""

    deployed: frozenset[str]
    supersedence_days: int

    def deploys(self, update_id: str) -> bool:
        return update_id.upper() in self.deployed


def read_site(settings: ConfigMgrSettings, clock: Clock) -> SiteView:
    """Read the deployed updates from the site database; raise SiteUnreadable naming the cause."""
    endpoint = Endpoint("configmgr", settings.site)
    executor: Executor | None = None
    try:
        executor = Executor(endpoint, clock=clock, default_timeout=120)
        rows = executor.run("configmgr_deployed_updates").rows
    except (DatabaseError, SusdbMaintError) as error:
        raise SiteUnreadable(
            f"Configuration Manager's site database ({endpoint.describe()}) could not be read, "
            f"so nothing is declined: {error}"
        ) from None
    finally:
        if executor is not None:
            executor.close()
    return SiteView(
        deployed=frozenset(str(row["CI_UniqueID"]).strip("{}").upper() for row in rows),
        supersedence_days=settings.supersedence_months * DAYS_PER_MONTH,
    )
