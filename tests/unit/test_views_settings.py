"""``BATTERYTRACE_VIEWS_DATABASE_URL``: unset or blank, the views' database is the event store's
(resolved on the settings, so every reader finds a URL); set, it is that one."""

from __future__ import annotations

import pytest

from batterytrace.trace.settings import Settings

STORE = "sqlite:///store.db"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_without_a_views_url_the_views_are_in_the_store_database(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    monkeypatch.setenv("BATTERYTRACE_DATABASE_URL", STORE)
    if value is None:
        monkeypatch.delenv("BATTERYTRACE_VIEWS_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("BATTERYTRACE_VIEWS_DATABASE_URL", value)

    settings = Settings.from_environment()

    assert settings.views_database_url == STORE
    assert not settings.views_apart


def test_a_views_url_names_the_views_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATTERYTRACE_DATABASE_URL", STORE)
    monkeypatch.setenv("BATTERYTRACE_VIEWS_DATABASE_URL", " postgresql://bt@views:5432/bt?schema=views ")

    settings = Settings.from_environment()

    assert settings.database_url == STORE
    assert settings.views_database_url == "postgresql://bt@views:5432/bt?schema=views"
    assert settings.views_apart


def test_settings_made_in_code_resolve_the_default_too() -> None:
    assert Settings(database_url=STORE).views_database_url == STORE
    assert Settings().views_database_url == Settings().database_url
    apart = Settings(database_url=STORE, views_database_url="sqlite:///views.db")
    assert (apart.views_database_url, apart.views_apart) == ("sqlite:///views.db", True)
