"""The real-driver tier never passes by skipping where .ci/run installed the driver."""

from __future__ import annotations

import pytest

from tests.integration.served import TIER_REQUIRED, unavailable


def test_without_the_driver_the_tier_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.delenv(TIER_REQUIRED, raising=False)
    with pytest.raises(pytest.skip.Exception, match="FreeTDS is missing"):
        unavailable("FreeTDS is missing")


def test_where_ci_installed_the_driver_its_absence_fails_the_tier(monkeypatch):
    monkeypatch.setenv(TIER_REQUIRED, "1")
    with pytest.raises(pytest.fail.Exception, match="FreeTDS is missing"):
        unavailable("FreeTDS is missing")
