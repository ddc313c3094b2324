"""Synthetic SUSDB catalogs, deterministic by seed, shaped like real WSUS servers.

Families: monthly cumulative-update chains per Windows product and architecture (each month
supersedes the last), Defender security-intelligence updates superseded several times a day,
Office and .NET chains, drivers, Itanium / ARM64 / language-pack noise, feature upgrades. On top:
expired updates (PublicationState 1), approvals to computer groups, older revisions (compression
candidates), bundles and prerequisites that block deletion, computers with last-contact times,
and synchronization history.

Updates that belong to several products, as on a real server: the Malicious Software Removal Tool
and servicing stack updates are listed under many Windows products, Defender definitions and .NET
updates under their own product and the Windows versions they apply to. Besides client-visible
updates the catalog holds what a SUSDB holds too: categories (one retired product expired),
detectoids (some expired), non-deployable bundled children (superseded and expired along their
chain) and a few hidden updates.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from jobs.simulator import clients, schema

# Catalog sizes. Neglected: above the 7,000 not-declined updates at which clients stop finishing
# their scans (jobs/simulator/clients.py), and back under it after one nightly run, so the demo
# shows clients recovering; bench/ makes the 60k catalog of a neglected estate with many products
# (--updates 60000), which needs product rules too.
PRESETS = {"small": 2_000, "neglected": 15_000}
CHUNK = 20_000

CLASSIFICATIONS = (
    "Security Updates",
    "Critical Updates",
    "Updates",
    "Definition Updates",
    "Drivers",
    "Feature Packs",
    "Update Rollups",
    "Upgrades",
)
PRODUCTS = (
    "Windows 10",
    "Windows 11",
    "Windows Server 2016",
    "Windows Server 2019",
    "Windows Server 2022",
    "Windows Server 2012 R2",
    "Windows Server 2008 R2",
    "Microsoft Defender Antivirus",
    "Office 2016",
    "Microsoft 365 Apps",
    ".NET Framework 4.8",
    "Windows 10 LTSB",
)
# Products Microsoft lists the Malicious Software Removal Tool under (it runs on all of them).
MSRT_PRODUCTS = (
    "Windows 10",
    "Windows 11",
    "Windows Server 2016",
    "Windows Server 2019",
    "Windows Server 2022",
    "Windows Server 2012 R2",
    "Windows Server 2008 R2",
)
RETIRED_PRODUCTS = ("Windows XP",)  # expired product categories no update refers to any more
WINDOWS = (
    ("Windows 10 Version 22H2", "Windows 10", "WINDOWS10"),
    ("Windows 11 Version 23H2", "Windows 11", "WINDOWS11"),
    ("Windows Server 2016", "Windows Server 2016", "WS2016"),
    ("Windows Server 2019", "Windows Server 2019", "WS2019"),
    ("Microsoft server operating system version 21H2", "Windows Server 2022", "WS2022"),
    ("Windows Server 2012 R2", "Windows Server 2012 R2", "WS2012R2"),
)
ARCHES = (
    ("x64-based Systems", "X64"),
    ("x86-based Systems", "X86"),
    ("ARM64-based Systems", "ARM64"),
)
LANGUAGES = (
    "fr-fr",
    "de-de",
    "ja-jp",
    "es-es",
    "it-it",
    "pt-br",
    "zh-cn",
    "ko-kr",
    "ru-ru",
    "nl-nl",
)


@dataclass
class Profile:
    """What kind of server the catalog comes from."""

    updates: int
    seed: int = 1
    now: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    )
    # "wall": the server's clock follows the wall clock from ``now`` on (the demo);
    # "pinned": it stays at ``now`` and moves only with modelled time (dbapi.clock_start).
    clock: str = "wall"
    neglected: bool = False
    replica: bool = False
    delete_fix: bool = True
    delete_update_text: str = "original"  # without the fix: "original" or "unknown"
    custom_indexes: bool = False
    backup_age_hours: float | None = 4.0
    edition: str = "wid"  # a key of schema.EDITIONS


@dataclass
class Spec:
    title: str
    classification: str
    product: str
    created: datetime
    kb: str | None = None
    legacy: str = ""
    update_type: str = "Software"
    supersedes: list[int] = field(default_factory=list)  # indexes of earlier specs
    expired: bool = False
    also_products: tuple[str, ...] = ()  # further products the update is listed under
    hidden: bool = False


def preset_profile(
    name: str, *, updates: int | None = None, seed: int = 1, **kwargs: object
) -> Profile:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    neglected = name == "neglected"
    defaults: dict[str, object] = {
        "neglected": neglected,
        "delete_fix": not neglected,
    }
    if "now" in kwargs:
        defaults["clock"] = "pinned"  # a catalog built at a given moment stays at that moment
    defaults.update(kwargs)
    return Profile(updates=updates or PRESETS[name], seed=seed, **defaults)  # type: ignore[arg-type]


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _specs(profile: Profile, rng: random.Random) -> Iterator[Spec]:
    """Yield update specs, oldest first within each family, about ``profile.updates`` in all."""
    total = profile.updates
    emitted = 0
    index = 0
    kb = 5000000
    # Shares of the catalog per family; the chains are long on a neglected server.
    shares = {
        "defender": 0.32,
        "cumulative": 0.22,
        "office": 0.12,
        "dotnet": 0.05,
        "drivers": 0.15,
        "itanium": 0.03,
        "language": 0.04,
        "upgrades": 0.02,
        "misc": 0.05,  # what is left: MSRT and servicing stacks first, then plain updates
    }
    months = max(
        6, min(120, int(total * shares["cumulative"] / (len(WINDOWS) * len(ARCHES) * 1.5)))
    )
    start = profile.now - timedelta(days=30 * months)

    # Monthly cumulative updates: one chain per product and architecture, plus previews.
    chains: dict[tuple[str, str], int] = {}
    for month in range(months):
        month_date = start + timedelta(days=30 * month)
        for title_product, product, legacy_product in WINDOWS:
            for arch_text, arch in ARCHES:
                if arch == "ARM64" and "Server" in title_product:
                    continue
                kb += 1
                key = (title_product, arch)
                spec = Spec(
                    title=f"{month_date:%Y-%m} Cumulative Update for {title_product} for {arch_text} (KB{kb})",
                    classification="Security Updates",
                    product=product,
                    created=month_date + timedelta(days=rng.randint(8, 14)),
                    kb=str(kb),
                    legacy=f"KB{kb}-{legacy_product}-{arch}-ROLLUP",
                )
                if key in chains:
                    spec.supersedes.append(chains[key])
                chains[key] = index
                yield spec
                index += 1
                emitted += 1
                if rng.random() < 0.5:
                    kb += 1
                    yield Spec(
                        title=f"{month_date:%Y-%m} Cumulative Update Preview for {title_product} for {arch_text} (KB{kb})",
                        classification="Updates",
                        product=product,
                        created=month_date + timedelta(days=rng.randint(20, 27)),
                        kb=str(kb),
                        legacy=f"KB{kb}-{legacy_product}-{arch}-PREVIEW",
                        supersedes=[chains[key]],
                    )
                    chains[key] = index
                    index += 1
                    emitted += 1

    # Defender security intelligence: several a day, each superseding the one before.
    defender_count = int(total * shares["defender"])
    # About two years of definitions: several a day, more on a bigger catalog.
    per_day = max(4.0, defender_count / 730)
    # The newest definition is one interval old: nothing in a catalog is created "now".
    moment = profile.now - timedelta(hours=(defender_count + 1) * 24 / per_day)
    previous = None
    version = 400
    for _ in range(defender_count):
        version += 1
        moment += timedelta(hours=24 / per_day)
        spec = Spec(
            title=f"Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version 1.{version // 1000}.{version % 1000}.0)",
            classification="Definition Updates",
            product="Microsoft Defender Antivirus",
            also_products=("Windows 10", "Windows 11"),
            created=moment,
            kb="2267602",
            legacy=f"DEFENDER-{version}",
        )
        if previous is not None:
            spec.supersedes.append(previous)
        # Microsoft expires definition updates a few weeks after they are superseded.
        spec.expired = moment < profile.now - timedelta(days=45) and rng.random() < 0.8
        previous = index
        yield spec
        index += 1
        emitted += 1

    def chain(count: int, make: object) -> Iterator[Spec]:
        nonlocal index, emitted
        links: dict[int, int] = {}
        for number in range(count):
            spec = make(number)  # type: ignore[operator]
            lane = number % 7
            if lane in links and rng.random() < 0.85:
                spec.supersedes.append(links[lane])
            links[lane] = index
            yield spec
            index += 1
            emitted += 1

    def dated(number: int, count: int) -> datetime:
        return profile.now - timedelta(days=(count - number) * 30 * months / max(count, 1))

    office_count = int(total * shares["office"])
    yield from chain(
        office_count,
        lambda n: Spec(
            title=f"Security Update for Microsoft Office 2016 (KB{5002000 + n}) {'32' if n % 2 else '64'}-Bit Edition",
            classification="Security Updates",
            product="Office 2016",
            created=dated(n, office_count),
            kb=str(5002000 + n),
            legacy=f"KB{5002000 + n}-OFFICE2016-{'X86' if n % 2 else 'X64'}",
        ),
    )
    dotnet_count = int(total * shares["dotnet"])
    yield from chain(
        dotnet_count,
        lambda n: Spec(
            title=f"Cumulative Update for .NET Framework 3.5 and 4.8 for Windows 10 Version 22H2 for {ARCHES[n % 2][0]} (KB{5030000 + n})",
            classification="Security Updates",
            product=".NET Framework 4.8",
            also_products=("Windows 10", "Windows Server 2019"),
            created=dated(n, dotnet_count),
            kb=str(5030000 + n),
            legacy=f"KB{5030000 + n}-DOTNET48-{ARCHES[n % 2][1]}-TSL",
        ),
    )
    driver_count = int(total * shares["drivers"])
    for number in range(driver_count):
        vendor = ("Intel", "Realtek", "HP", "Dell", "Lenovo", "Synaptics")[number % 6]
        spec = Spec(
            title=f"{vendor} - System - 10.1.{number // 50}.{number % 50}",
            classification="Drivers",
            product="Windows 10",
            update_type="Driver",
            created=dated(number, driver_count),
            legacy=f"DRIVER-{vendor.upper()}-{number}",
        )
        if number >= 6 and rng.random() < 0.4:
            spec.supersedes.append(index - 6)
        yield spec
        index += 1
        emitted += 1
    for number in range(int(total * shares["itanium"])):
        kb += 1
        yield Spec(
            title=f"Security Update for Windows Server 2008 R2 for Itanium-based Systems (KB{kb})",
            classification="Security Updates",
            product="Windows Server 2008 R2",
            created=profile.now - timedelta(days=900 + number),
            kb=str(kb),
            legacy=f"KB{kb}-Win2008R2-IA64-X",
            expired=rng.random() < 0.3,
        )
        index += 1
        emitted += 1
    for number in range(int(total * shares["language"])):
        language = LANGUAGES[number % len(LANGUAGES)]
        kb += 1
        yield Spec(
            title=f"Windows 10 Version 22H2 Language Interface Pack - {language} (KB{kb})",
            classification="Updates",
            product="Windows 10",
            created=profile.now - timedelta(days=rng.randint(30, 1500)),
            kb=str(kb),
            legacy=f"KB{kb}-WINDOWS10-LIP-{language.upper()}",
        )
        index += 1
        emitted += 1
    for number in range(int(total * shares["upgrades"])):
        yield Spec(
            title=f"Windows 11, version 23H2 x64 {LANGUAGES[number % len(LANGUAGES)]} Business Edition",
            classification="Upgrades",
            product="Windows 11",
            created=profile.now - timedelta(days=rng.randint(30, 700)),
            legacy=f"UPGRADE-WIN11-23H2-{number}",
        )
        index += 1
        emitted += 1

    def superseding_chain(months_used: range, make: object) -> Iterator[Spec]:
        """One spec per month while the catalog has room, each superseding the one before."""
        nonlocal index, emitted
        previous = None
        for month in months_used:
            if emitted >= total:
                return
            spec = make(month)  # type: ignore[operator]
            if previous is not None:
                spec.supersedes.append(previous)
            previous = index
            yield spec
            index += 1
            emitted += 1

    # The Malicious Software Removal Tool, monthly, listed under every Windows product.
    yield from superseding_chain(
        range(months),
        lambda month: Spec(
            title=f"Windows Malicious Software Removal Tool x64 - v5.{month + 1} (KB890830)",
            classification="Update Rollups",
            product=MSRT_PRODUCTS[0],
            also_products=MSRT_PRODUCTS[1:],
            created=start + timedelta(days=30 * month + 9),
            kb="890830",
            legacy=f"KB890830-X64-V5.{month + 1}",
        ),
    )
    # Servicing stack updates for the 1607 code base, listed under both products it serves.
    yield from superseding_chain(
        range(0, months, 2),
        lambda month: Spec(
            title=f"{start + timedelta(days=30 * month):%Y-%m} Servicing Stack Update for Windows Server 2016 and Windows 10 Version 1607 for x64-based Systems (KB{5090000 + month})",
            classification="Security Updates",
            product="Windows Server 2016",
            also_products=("Windows 10 LTSB",),
            created=start + timedelta(days=30 * month + 10),
            kb=str(5090000 + month),
            legacy=f"KB{5090000 + month}-WS2016-X64-SSU",
        ),
    )
    while emitted < total:
        kb += 1
        windows = WINDOWS[emitted % len(WINDOWS)]
        yield Spec(
            title=f"Update for {windows[0]} for {ARCHES[emitted % 2][0]} (KB{kb})",
            classification="Updates",
            product=windows[1],
            created=profile.now - timedelta(days=rng.randint(1, 2000)),
            kb=str(kb),
            legacy=f"KB{kb}-{windows[2]}-{ARCHES[emitted % 2][1]}-UPDATE",
            expired=rng.random() < 0.08,
            hidden=rng.random() < 0.01,
        )
        index += 1
        emitted += 1


class _Writer:
    """Buffers rows per table and flushes them in chunks, so 1M updates stay within memory."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.rows: dict[str, list[tuple[object, ...]]] = {}

    def add(self, table: str, row: tuple[object, ...]) -> None:
        self.rows.setdefault(table, []).append(row)

    def flush(self) -> None:
        for table, rows in self.rows.items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                self.connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
                rows.clear()


def generate(connection: sqlite3.Connection, profile: Profile) -> dict[str, int]:
    """Fill an empty simulated SUSDB. Return counts of what was written."""
    rng = random.Random(profile.seed)
    now = profile.now
    writer = _Writer(connection)
    ids = {"local": 0, "revision": 0, "property": 0, "deployment": 0}
    update_types = {
        "Software": _guid(rng),
        "Driver": _guid(rng),
        "Category": _guid(rng),
        "Detectoid": _guid(rng),
    }
    for name, guid in update_types.items():
        writer.add("tbUpdateType", (guid, name))
    groups = {
        "All Computers": schema.ALL_COMPUTERS_GROUP,
        "Unassigned Computers": schema.UNASSIGNED_GROUP,
        "Workstations": _guid(rng),
        "Servers": _guid(rng),
    }
    for order, (name, guid) in enumerate(groups.items()):
        parent = None if name == "All Computers" else schema.ALL_COMPUTERS_GROUP
        writer.add(
            "tbTargetGroup",
            (
                guid,
                0,
                name,
                None,
                order,
                int(name in ("All Computers", "Unassigned Computers")),
                parent,
                0,
            ),
        )

    def new_update(
        title: str,
        update_type: str,
        created: datetime,
        legacy: str,
        *,
        explicitly: int = 1,
        expired: bool = False,
        kb: str | None = None,
        revisions: int = 1,
        hidden: bool = False,
    ) -> tuple[int, str, int]:
        ids["local"] += 1
        local_id = ids["local"]
        update_id = _guid(rng)
        received = created + timedelta(hours=rng.randint(1, 48))
        writer.add(
            "tbUpdate",
            (
                local_id,
                update_id,
                update_types[update_type],
                0,
                None,
                1,
                int(hidden),
                None,
                legacy,
                None,
                0,
                _ts(min(received, now)),
            ),
        )
        latest = 0
        for number in range(1, revisions + 1):
            ids["revision"] += 1
            revision_id = ids["revision"]
            is_latest = int(number == revisions)
            writer.add(
                "tbRevision",
                (
                    revision_id,
                    local_id,
                    200 + number,
                    None,
                    1,
                    0,
                    _ts(created),
                    _guid(rng),
                    1,
                    1,
                    0,
                    1,
                    is_latest,
                    0,
                ),
            )
            # A revision expires with its update; older revisions are never "expired" themselves.
            writer.add(
                "tbProperty",
                (
                    revision_id,
                    int(expired and bool(is_latest)),
                    _ts(created),
                    _ts(min(received, now)),
                    explicitly,
                    0,
                    update_type,
                    "Important",
                    0,
                ),
            )
            ids["property"] += 1
            property_id = ids["property"]
            writer.add("tbLocalizedProperty", (property_id, title, f"Description of {title}", None))
            writer.add("tbLocalizedPropertyForRevision", (revision_id, 0, property_id))
            if kb:
                writer.add("tbKBArticleForRevision", (revision_id, kb))
            latest = revision_id
        return local_id, update_id, latest

    categories: dict[str, int] = {}
    for category_type, names in (
        ("UpdateClassification", CLASSIFICATIONS),
        ("Product", PRODUCTS + RETIRED_PRODUCTS),
    ):
        for order, name in enumerate(names):
            local_id, _, _ = new_update(
                name,
                "Category",
                now - timedelta(days=3000),
                f"CATEGORY-{name}",
                explicitly=0,
                expired=name in RETIRED_PRODUCTS,
            )
            writer.add(
                "tbCategory", (local_id, local_id, None, category_type, _ts(now), 0, 0, order)
            )
            writer.add(
                "tbPrecomputedCategoryLocalizedProperty", (local_id, "en", name, category_type)
            )
            categories[name] = local_id

    superseded_ratio_declined = 0.02 if profile.neglected else 0.6
    latest_revision: list[int] = []
    update_guid: list[str] = []
    local_ids: list[int] = []
    superseded: set[int] = set()
    counts = {
        "updates": 0,
        "superseded": 0,
        "expired": 0,
        "approved": 0,
        "declined": 0,
        "bundles": 0,
        "prerequisites": 0,
        "computers": 0,
        "sync_events": 0,
        "detectoids": 0,
        "hidden": 0,
        "multi_product": 0,
    }
    # Detectoids: not deployable, never client-visible updates; Microsoft expires some.
    for number in range(max(4, profile.updates // 400)):
        new_update(
            f"Product Detectoid for Windows 10 Feature {number} (Itanium-based and x64 Systems)",
            "Detectoid",
            now - timedelta(days=rng.randint(60, 2000)),
            f"DETECTOID-{number}",
            explicitly=0,
            expired=number % 2 == 0,
        )
        counts["detectoids"] += 1
    specs = list(_specs(profile, rng))
    last_child: dict[str, str] = {}
    for position, spec in enumerate(specs):
        revisions = 1 if rng.random() > 0.15 else rng.randint(2, 3)
        local_id, update_id, revision_id = new_update(
            spec.title,
            spec.update_type,
            spec.created,
            spec.legacy,
            expired=spec.expired,
            kb=spec.kb,
            revisions=revisions,
            hidden=spec.hidden,
        )
        latest_revision.append(revision_id)
        update_guid.append(update_id)
        local_ids.append(local_id)
        counts["updates"] += 1
        counts["expired"] += spec.expired
        counts["hidden"] += spec.hidden
        counts["multi_product"] += bool(spec.also_products)
        writer.add("tbRevisionInCategory", (revision_id, categories[spec.classification], 0))
        for product in (spec.product, *spec.also_products):
            writer.add("tbRevisionInCategory", (revision_id, categories[product], 0))
        for older in spec.supersedes:
            writer.add("tbRevisionSupersedesUpdate", (revision_id, update_guid[older]))
            superseded.add(older)
        # Approvals: a WSUS administrator approves the current updates for both groups.
        is_old = spec.created < now - timedelta(days=60)
        if not spec.expired and rng.random() < (0.25 if not is_old else 0.1):
            group = groups["Workstations"] if rng.random() < 0.6 else groups["Servers"]
            ids["deployment"] += 1
            writer.add(
                "tbDeployment",
                (
                    ids["deployment"],
                    revision_id,
                    group,
                    0,
                    schema.ACTION_INSTALL,
                    0,
                    _ts(spec.created + timedelta(days=2)),
                    None,
                    None,
                    "CONTOSO\\wsusadmin",
                    _ts(spec.created + timedelta(days=2)),
                    ids["deployment"],
                    _guid(rng),
                    1,
                    spec.update_type,
                    0,
                ),
            )
            counts["approved"] += 1
        # Bundles: some cumulative updates carry a non-deployable child (deleted with the parent).
        # The child of the next bundle in the chain supersedes this one, and expires with its bundle.
        if "Cumulative Update for" in spec.title and rng.random() < 0.05:
            chain_key = spec.title.split(" Cumulative Update for ")[-1].split(" (KB")[0]
            _, child_id, child_revision = new_update(
                f"{spec.title} (component)",
                "Software",
                spec.created,
                f"{spec.legacy}-CHILD",
                explicitly=0,
                expired=spec.expired,
            )
            writer.add("tbBundleDependency", (revision_id, child_revision))
            if chain_key in last_child:
                writer.add("tbRevisionSupersedesUpdate", (child_revision, last_child[chain_key]))
            last_child[chain_key] = child_id
            counts["bundles"] += 1
        # Prerequisites: an expired update that a live update still needs cannot be deleted.
        if position > 10 and rng.random() < 0.01:
            prerequisite = rng.randrange(0, position)
            writer.add(
                "tbPrerequisiteDependency",
                (revision_id, latest_revision[prerequisite], local_ids[prerequisite]),
            )
            counts["prerequisites"] += 1
        if position % CHUNK == 0:
            writer.flush()
    writer.flush()

    # Earlier administrators declined some superseded updates (few on a neglected server).
    for older in sorted(superseded):
        if rng.random() < superseded_ratio_declined:
            ids["deployment"] += 1
            writer.add(
                "tbDeployment",
                (
                    ids["deployment"],
                    latest_revision[older],
                    schema.ALL_COMPUTERS_GROUP,
                    0,
                    schema.ACTION_BLOCK,
                    0,
                    _ts(now - timedelta(days=90)),
                    None,
                    None,
                    "CONTOSO\\wsusadmin",
                    _ts(now - timedelta(days=90)),
                    ids["deployment"],
                    _guid(rng),
                    0,
                    None,
                    0,
                ),
            )
            counts["declined"] += 1
    counts["superseded"] = len(superseded)
    writer.flush()

    computer_count = max(40, min(20_000, profile.updates // 50))
    stale_share = 0.15 if profile.neglected else 0.05
    computer_ids: list[str] = []
    for number in range(computer_count):
        silent = rng.random() < stale_share  # left the estate: never scans again (clients.py)
        age_days = rng.randint(31, 400) if silent else rng.uniform(0, 3)
        seen = now - timedelta(days=age_days)
        name = f"{'SRV' if number % 5 == 0 else 'PC'}{number:05d}.contoso.com"
        computer_ids.append(_guid(rng))
        writer.add(
            "tbComputerTarget",
            (
                number + 1,
                computer_ids[-1],
                None,
                _ts(seen),
                _ts(seen),
                None,
                f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}",
                name,
                1,
                _ts(seen),
                None,
                _ts(seen),
                None,
                0,
            ),
        )
        if not silent:
            writer.add("sim_client", (computer_ids[-1], None))
    counts["computers"] = computer_count
    # What the first computers report for a sample of updates: some still need (2 NotInstalled,
    # 5 Failed) an update that is superseded, which the Server Cleanup Wizard's rule keeps. Its
    # own random stream, so the rest of the catalog is the same as before it was modelled.
    status_rng = random.Random(profile.seed * 7919 + 1)
    for target_id in range(1, min(computer_count, 200) + 1):
        for local_id in status_rng.sample(local_ids, min(10, len(local_ids))):
            state = status_rng.choice((1, 1, 2, 4, 4, 4, 5))
            moment = _ts(now - timedelta(days=status_rng.uniform(0, 20)))
            writer.add(
                "tbUpdateStatusPerComputer", (state, local_id, target_id, moment, moment, moment)
            )

    # Synchronization history: two syncs a day for up to two years, plus client reporting events.
    days = 730 if profile.neglected else 200
    ordinal = 0
    for day in range(days):
        for sync in range(2):
            at = now - timedelta(days=day, hours=sync * 12 + 3)  # the last sync ended 3 h ago
            for event_id in (schema.SYNC_EVENT_IDS[0], schema.SYNC_EVENT_IDS[1]):
                ordinal += 1
                writer.add(
                    "tbEventInstance",
                    (
                        _guid(rng),
                        event_id,
                        schema.SYNC_EVENT_NAMESPACE,
                        1,
                        _ts(at),
                        _ts(at),
                        0,
                        "WSUS",
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        ordinal,
                    ),
                )
                counts["sync_events"] += 1
    # Client reports of the last 60 days, each naming the computer that sent it: mostly detection
    # (one per client and detection cycle, KB 909131), some downloads and installations
    # (schema.CLIENT_EVENT_IDS). Picked by position, so the random stream is the one it was.
    reported = (147, 147, 147, 147, 148, 162, 161, 184, 197)
    for number in range(min(200_000, profile.updates // 2)):
        ordinal += 1
        at = now - timedelta(minutes=rng.randint(1, 60 * 24 * 60))
        writer.add(
            "tbEventInstance",
            (
                _guid(rng),
                reported[number % len(reported)],
                schema.CLIENT_EVENT_NAMESPACE,
                2,
                _ts(at),
                _ts(at),
                0,
                "AutomaticUpdates",
                None,
                None,
                computer_ids[number % len(computer_ids)],
                None,
                None,
                None,
                ordinal,
            ),
        )
        if number % CHUNK == 0:
            writer.flush()
    writer.flush()
    clients.settle(connection, now)  # each scanning client's newest scan, of this catalog

    _write_server_objects(connection, profile, rng)
    connection.commit()
    return counts


def _write_server_objects(
    connection: sqlite3.Connection, profile: Profile, rng: random.Random
) -> None:
    now = profile.now
    connection.executemany(
        "INSERT INTO tbEventNamespace (EventNamespaceID, DisplayNameString) VALUES (?, ?)",
        schema.EVENT_NAMESPACES,
    )
    connection.execute(
        "INSERT INTO tbConfigurationA VALUES (1, ?, ?, ?, ?, 0)",
        (
            _guid(rng),
            0 if profile.replica else 1,
            "wsus-root.contoso.com" if profile.replica else None,
            8530 if profile.replica else None,
        ),
    )
    connection.execute(
        "INSERT INTO tbConfigurationC VALUES (1, 5242880, ?, 30, NULL)", (int(profile.replica),)
    )
    connection.execute(
        "INSERT INTO tbSchemaVersion VALUES (1, 'UpdateServices-DB', '10.0.20348', 1)"
    )
    for table, index_id, name, type_desc, key, row_bytes in schema.BASE_INDEXES:
        if profile.neglected:
            fragmentation, density = rng.uniform(20, 95), rng.uniform(55, 80)
        else:
            fragmentation, density = rng.uniform(0, 12), rng.uniform(88, 99)
        connection.execute(
            f"INSERT INTO sim_index {schema.SIM_INDEX_COLUMNS} VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)",
            (table, index_id, name, type_desc, key, fragmentation, density, row_bytes),
        )
    connection.execute(
        "UPDATE sim_index SET allow_page_locks = 0 WHERE object_name = ? AND name = ?",
        schema.PAGE_LOCKS_OFF,
    )
    for (
        owner,
        table,
        index_id,
        name,
        type_desc,
        key,
        row_bytes,
        kind,
        shipped,
        rows,
    ) in schema.OTHER_OBJECTS:
        connection.execute(
            "INSERT INTO sim_index (schema_name, object_name, index_id, name, type_desc, key_column, "
            "avg_fragmentation_in_percent, avg_page_space_used_in_percent, row_bytes, object_type, "
            "is_ms_shipped, fixed_rows) VALUES (?, ?, ?, ?, ?, ?, ?, 70, ?, ?, ?, ?)",
            (
                owner,
                table,
                index_id,
                name,
                type_desc,
                key,
                rng.uniform(40, 90),
                row_bytes,
                kind,
                shipped,
                rows,
            ),
        )
    if profile.custom_indexes:
        connection.execute(
            f"INSERT INTO sim_index {schema.SIM_INDEX_COLUMNS} VALUES ('tbLocalizedPropertyForRevision', 3, "
            "'nclLocalizedPropertyID', 'NONCLUSTERED', 'LocalizedPropertyID', 0, 1, 98, 12)"
        )
        connection.execute(
            f"INSERT INTO sim_index {schema.SIM_INDEX_COLUMNS} VALUES ('tbRevisionSupersedesUpdate', 3, "
            "'nclSupercededUpdateID', 'NONCLUSTERED', 'SupersededUpdateID', 0, 1, 98, 24)"
        )
    texts = schema.spdeleteupdate_texts()
    definition = texts["fixed"] if profile.delete_fix else texts[profile.delete_update_text]
    connection.execute(
        "INSERT INTO sim_object_definition (name, definition) VALUES ('dbo.spDeleteUpdate', ?)",
        (definition,),
    )
    edition, engine_edition, server_name = schema.EDITIONS[profile.edition]
    for name, value in (
        ("Edition", edition),
        ("ProductVersion", "13.0.6300.2"),
        ("EngineEdition", str(engine_edition)),
        ("ServerName", server_name),
        ("IsHadrEnabled", "0"),
    ):
        connection.execute("INSERT INTO sim_server_property VALUES (?, ?)", (name, value))
    if profile.backup_age_hours is not None:
        finished = now - timedelta(hours=profile.backup_age_hours)
        connection.execute(
            "INSERT INTO sim_backupset VALUES (1, 'SUSDB', 'D', 0, ?, 'D:\\Backup\\SUSDB.bak')",
            (_ts(finished),),
        )
    connection.execute("INSERT INTO sim_meta VALUES ('created', ?)", (_ts(now),))
    connection.execute("INSERT INTO sim_meta VALUES ('seed', ?)", (str(profile.seed),))
