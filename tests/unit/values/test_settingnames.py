"""values/settingnames.py: a setting named the way it was given (keyword, environment
variable, flag), in hints, configuration errors and warnings."""

from __future__ import annotations

import pytest
from helpers.keys import HS_SECRET

from jwt_middleware import ConfigurationError, Settings
from jwt_middleware.values.settingnames import BY_ENVIRONMENT, BY_KEYWORD, SettingNames

FLAGS = {"leeway": "--leeway", "public_key_file": "--key-file"}


def test_each_origin_names_the_setting_its_own_way() -> None:
    text = "raise $leeway, or add it to $audience"
    assert BY_KEYWORD.render(text) == (
        "raise Settings(leeway=...), or add it to Settings(audience=...)"
    )
    assert BY_ENVIRONMENT.render(text) == "raise JWT_LEEWAY, or add it to JWT_AUDIENCE"
    flags = SettingNames("flag", flags=FLAGS)
    # a setting the command has no flag for: its variable
    assert flags.render(text) == "raise --leeway, or add it to JWT_AUDIENCE"
    assert flags.render("$public_key_file") == "--key-file"


def test_a_setting_without_a_variable_is_named_by_its_keyword() -> None:
    assert BY_ENVIRONMENT.render("raise $max_token_bytes") == "raise Settings(max_token_bytes=...)"


def test_each_setting_has_its_own_origin() -> None:
    names = BY_ENVIRONMENT.with_origin("keyword", {"audience": "x"})
    assert names.render("$audience and $issuer") == "Settings(audience=...) and JWT_ISSUER"
    assert names.origin("audience") == "keyword" and names.origin("issuer") == "environment"


def test_only_the_names_of_settings_are_rendered() -> None:
    """A '$' in other text (a price, a shell variable, a token's own value) is left."""
    text = "costs $5, not $HOME nor $nosuchsetting; $leeway$leeway"
    assert (
        BY_ENVIRONMENT.render(text)
        == "costs $5, not $HOME nor $nosuchsetting; JWT_LEEWAYJWT_LEEWAY"
    )
    assert BY_ENVIRONMENT.render("no placeholder") == "no placeholder"


def test_names_are_immutable_and_checked() -> None:
    with pytest.raises(AttributeError):
        BY_KEYWORD.default = "flag"  # type: ignore[misc]
    with pytest.raises(ValueError, match="not one of"):
        SettingNames("yaml")  # type: ignore[arg-type]
    assert repr(BY_ENVIRONMENT) == "SettingNames('environment')"


# --- through Settings ------------------------------------------------------------------


def test_from_env_names_variables_and_its_keywords_as_keywords() -> None:
    env = {"JWT_SECRET": HS_SECRET, "JWT_ALGORITHMS": "HS256"}
    with pytest.raises(ConfigurationError, match=r"^JWT_LEEWAY: 5000\.0 s is outside"):
        Settings.from_env({**env, "JWT_LEEWAY": "5000"})
    with pytest.raises(ConfigurationError, match=r"^Settings\(leeway=\.\.\.\): 5000 s is outside"):
        Settings.from_env(env, leeway=5000)
    with pytest.raises(ConfigurationError, match=r"^Settings\(leeway=\.\.\.\): 5000 s"):
        Settings(secret=HS_SECRET, algorithms="HS256", leeway=5000)
    s = Settings.from_env(env, audience="orders-api")
    assert s.render("$audience, $issuer") == "Settings(audience=...), JWT_ISSUER"
    assert Settings(secret=HS_SECRET, algorithms="HS256").render("$issuer") == (
        "Settings(issuer=...)"
    )


def test_the_names_survive_a_replace_and_do_not_change_equality() -> None:
    import dataclasses

    s = Settings.from_env({"JWT_SECRET": HS_SECRET, "JWT_ALGORITHMS": "HS256"})
    assert dataclasses.replace(s, leeway=10).setting_names is s.setting_names
    assert s == Settings(secret=HS_SECRET, algorithms="HS256")
    assert "setting_names" not in repr(s)


def test_setting_names_of_another_type_is_refused() -> None:
    with pytest.raises(
        ConfigurationError, match=r"Settings\(setting_names=\.\.\.\): expected SettingNames"
    ):
        Settings(secret=HS_SECRET, setting_names="environment")  # type: ignore[arg-type]


def test_a_misspelt_setting_is_named_with_the_nearest_one() -> None:
    with pytest.raises(ConfigurationError, match=r"'jwks_urll' \(did you mean 'jwks_url'\?\)"):
        Settings(jwks_urll="https://idp.example/jwks")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match=r"'scope_claim' \(did you mean 'scope_claims'"):
        Settings.from_env({"JWT_SECRET": HS_SECRET}, scope_claim="roles")
    with pytest.raises(ConfigurationError, match=r"unknown setting\(s\): 'zzz'$"):
        Settings(zzz=1)  # type: ignore[call-arg]
