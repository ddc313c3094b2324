"""Decline presets against real WSUS titles: each hits what it names, and nothing else. What a
run with presets declines, under never_decline and on the catalog's clock, is in
tests/fixtures/decline_cases.yml."""

from __future__ import annotations

import json
import typing
from datetime import date

import pytest
from pydantic import ValidationError

from jobs.stages import decline_presets as module
from jobs.stages.declared.decline import DeclineSettings, PresetName
from jobs.stages.decline import rule_matcher
from tests.helpers import ROOT

FIXTURE = json.loads(
    (ROOT / "tests" / "fixtures" / "update_titles.json").read_text(encoding="utf-8")
)
ON = date(2026, 11, 25)


def matches(preset: str, entry: dict[str, typing.Any], today: date = ON) -> bool:
    return any(
        rule.field == entry["field"] and rule_matcher(rule).search(entry["text"])
        for rule in module.preset_rules([preset], today)
    )


@pytest.mark.parametrize("preset", typing.get_args(PresetName))
def test_each_preset_matches_exactly_the_real_titles_it_names(preset):
    wrong = {
        entry["text"]: "should match" if preset in entry["presets"] else "should not match"
        for entry in FIXTURE["entries"]
        if matches(preset, entry) != (preset in entry["presets"])
    }
    assert not wrong


def test_every_preset_is_exercised_by_the_fixture_and_every_entry_cites_a_source():
    named = {preset for entry in FIXTURE["entries"] for preset in entry["presets"]}
    assert named == set(typing.get_args(PresetName))
    assert {entry["source"] for entry in FIXTURE["entries"]} <= set(FIXTURE["sources"])


def test_x86_does_not_hit_x64_and_arm64_does_not_hit_x64():
    x64 = {
        "field": "title",
        "text": "2019-05 Cumulative Update for Windows 10 Version 1903 for x64-based Systems (KB4497935)",
    }
    assert not matches("x86", x64)
    assert not matches("arm64", x64)


def test_a_feature_update_is_kept_until_its_release_is_out_of_service():
    windows_11_23h2 = {"field": "title", "text": "Windows 11 23H2 (business editions) en-us x64"}
    windows_11_24h2 = {"field": "title", "text": "Windows 11 24H2 (business editions) en-us x64"}
    # Windows 11 23H2 Enterprise and Education: last serviced on 2026-11-10.
    assert not matches("windows-feature-updates-eos", windows_11_23h2, date(2026, 11, 10))
    assert matches("windows-feature-updates-eos", windows_11_23h2, date(2026, 11, 11))
    assert not matches("windows-feature-updates-eos", windows_11_24h2, date(2026, 11, 25))


def test_end_of_service_dates_fall_on_patch_tuesdays():
    # Microsoft ends servicing on a second Tuesday; a date that is not one is a typing error.
    for product, release, last_day in module.WINDOWS_RELEASES:
        assert last_day.weekday() == 1 and 8 <= last_day.day <= 14, (product, release, last_day)


def test_presets_setting_rejects_an_unknown_name_and_names_the_known_ones():
    with pytest.raises(ValidationError) as error:
        DeclineSettings(presets=["itanium", "itanic"])
    assert "itanic" in str(error.value) and "arm64" in str(error.value)


def test_readme_lists_the_presets_as_declared():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert module.markdown_table() in readme, "run: python -m jobs.settings.render"


def test_windows_10_22h2_feature_updates_stay_while_extended_security_updates_run():
    """decline-review N5: ESU needs 22H2, and its feature update is how older builds get there."""
    feature_update = {
        "field": "title",
        "text": "Feature update to Windows 10 (business editions), version 22H2, en-us x64",
    }
    assert not matches("windows-feature-updates-eos", feature_update, date(2026, 7, 20))
    assert not matches("windows-feature-updates-eos", feature_update, date(2028, 10, 10))
    assert matches("windows-feature-updates-eos", feature_update, date(2028, 10, 11))
