"""Settings: defaults, validation, and secrets that never show."""

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, load_settings_for

REQUIRED = {"DISCORD_TOKEN": "tok.en-VALUE", "ONEMIN_API_KEY": "key-VALUE"}


def test_defaults_match_the_spec_table():
    s = load_settings(REQUIRED)
    assert s.onemin_api_url == "https://api.1min.ai"
    assert s.onemin_model == "gemini-2.5-flash-image"
    assert s.discord_api_url == "https://discord.com/api/v10"
    assert s.discord_api_is_default
    assert s.database_path == Path("data/bot.sqlite3")
    assert (s.max_concurrent_jobs, s.default_user_daily_limit, s.default_guild_daily_limit) == (
        4,
        20,
        500,
    )
    assert (s.default_cooldown_seconds, s.default_max_queue) == (10, 25)
    assert s.onemin_timeout_seconds == 120
    assert s.max_image_bytes == 52_428_800
    assert s.shutdown_grace_seconds == 25
    assert s.retention_days == 90
    assert s.log_level == "INFO"
    assert s.onemin_edit_model == "gemini-2.5-flash-image-preview"
    assert s.onemin_image_size == "1K"
    assert s.onemin_aspect_ratio_field is None  # the model table's


@pytest.mark.parametrize("missing", ["DISCORD_TOKEN", "ONEMIN_API_KEY"])
def test_missing_required_names_the_variable(missing):
    env = {k: v for k, v in REQUIRED.items() if k != missing}
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert info.value.variable == missing


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_CONCURRENT_JOBS", "0"),
        ("MAX_CONCURRENT_JOBS", "four"),
        ("DEFAULT_USER_DAILY_LIMIT", "-1"),
        ("DEFAULT_COOLDOWN_SECONDS", "1.5"),
        ("DEFAULT_MAX_QUEUE", "0"),
        ("ONEMIN_TIMEOUT_SECONDS", "0"),
        ("ONEMIN_TIMEOUT_SECONDS", "nan"),
        ("SHUTDOWN_GRACE_SECONDS", "-3"),
        ("ONEMIN_API_URL", "api.1min.ai"),
        ("DISCORD_API_URL", "ftp://example"),
        ("LOG_LEVEL", "LOUD"),
        ("RETENTION_DAYS", "0"),
        ("MAX_IMAGE_BYTES", "12"),
        ("DISCORD_TOKEN", '"quoted"'),
        ("ONEMIN_IMAGE_SIZE", "huge"),
        ("ONEMIN_MODEL", "gemini-2.5-flash-image-preview"),  # edits only
        ("ONEMIN_EDIT_MODEL", "gemini-2.5-flash-image"),  # generates only
        ("ONEMIN_ASPECT_RATIO_FIELD", "aspect ratio"),
        ("ONEMIN_ASPECT_RATIO_FIELD", "prompt"),
        ("METRICS_ADDRESS", "9108"),
        ("METRICS_ADDRESS", "localhost:"),
        ("METRICS_ADDRESS", ":9108"),
        ("METRICS_ADDRESS", "127.0.0.1:http"),
        ("METRICS_ADDRESS", "127.0.0.1:70000"),
        ("METRICS_ADDRESS", "::1:9108"),
    ],
)
def test_malformed_values_name_the_variable(name, value):
    with pytest.raises(ConfigError) as info:
        load_settings({**REQUIRED, name: value})
    assert info.value.variable == name
    assert name in str(info.value)


def test_zero_limits_are_allowed_and_urls_lose_trailing_slash():
    s = load_settings(
        {
            **REQUIRED,
            "DEFAULT_USER_DAILY_LIMIT": "0",
            "DEFAULT_COOLDOWN_SECONDS": "0",
            "ONEMIN_API_URL": "http://127.0.0.1:9/",
            "DISCORD_API_URL": "http://127.0.0.1:8/api/v10/",
            "LOG_LEVEL": "debug",
        }
    )
    assert s.default_user_daily_limit == 0
    assert s.default_cooldown_seconds == 0
    assert s.onemin_api_url == "http://127.0.0.1:9"
    assert s.discord_api_url == "http://127.0.0.1:8/api/v10"
    assert not s.discord_api_is_default
    assert s.log_level == "DEBUG"


def test_secrets_never_show_in_repr_or_errors():
    s = load_settings(REQUIRED)
    text = repr(s) + str(s)
    assert "tok.en-VALUE" not in text
    assert "key-VALUE" not in text
    assert s.discord_token.get() == "tok.en-VALUE"
    with pytest.raises(ConfigError) as info:
        load_settings({**REQUIRED, "DISCORD_TOKEN": "has space"})
    assert "has space" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"ONEMIN_MODEL": "gemini-3-pro-image-preview", "ONEMIN_IMAGE_SIZE": "512"}, "1K, 2K, 4K"),
        ({"ONEMIN_EDIT_MODEL": "gemini-3-pro-image-preview", "ONEMIN_IMAGE_SIZE": "512"}, "1K"),
    ],
)
def test_an_image_size_the_chosen_model_does_not_take_names_the_variable(env, problem):
    with pytest.raises(ConfigError) as info:
        load_settings({**REQUIRED, **env})
    assert info.value.variable == "ONEMIN_IMAGE_SIZE"
    assert problem in info.value.problem


def test_model_settings_that_are_accepted():
    s = load_settings(
        {**REQUIRED, "ONEMIN_MODEL": "gemini-3.1-flash-image-preview", "ONEMIN_IMAGE_SIZE": "512"}
    )
    assert s.onemin_image_size == "512"
    assert load_settings({**REQUIRED, "ONEMIN_IMAGE_SIZE": "2k"}).onemin_image_size == "2K"
    # A model that takes no size ignores it; an unknown model id is not an error.
    assert load_settings({**REQUIRED, "ONEMIN_MODEL": "some-new-model"}).onemin_model == (
        "some-new-model"
    )
    # Set but empty means "send no ratio"; unset means the table's field.
    assert (
        load_settings({**REQUIRED, "ONEMIN_ASPECT_RATIO_FIELD": ""}).onemin_aspect_ratio_field == ""
    )
    assert (
        load_settings(
            {**REQUIRED, "ONEMIN_ASPECT_RATIO_FIELD": " aspectRatio "}
        ).onemin_aspect_ratio_field
        == "aspectRatio"
    )


def test_metrics_address_is_off_by_default_and_parsed_as_host_and_port():
    assert load_settings(REQUIRED).metrics_address is None
    assert load_settings({**REQUIRED, "METRICS_ADDRESS": " "}).metrics_address is None
    for raw, expected in [
        ("127.0.0.1:9108", ("127.0.0.1", 9108)),
        ("localhost:9108", ("localhost", 9108)),
        ("[::1]:9108", ("::1", 9108)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
    ]:
        assert load_settings({**REQUIRED, "METRICS_ADDRESS": raw}).metrics_address == expected


def test_a_command_reads_only_the_variables_it_uses():
    env = {"DATABASE_PATH": "x/db.sqlite3", "MAX_CONCURRENT_JOBS": "lots", "LOG_LEVEL": "LOUD"}
    s = load_settings_for(env, lambda name: name == "DATABASE_PATH")
    assert s.database_path == Path("x/db.sqlite3")
    assert s.max_concurrent_jobs == 4, "the malformed one was not read"
    assert s.log_level == "INFO"
    assert s.discord_token.get() == "" and s.onemin_api_key.get() == ""

    used = load_settings_for({"ONEMIN_API_KEY": "k"}, lambda name: name.startswith("ONEMIN_"))
    assert used.onemin_api_key.get() == "k"
    with pytest.raises(ConfigError) as info:
        load_settings_for({}, lambda name: name.startswith("ONEMIN_"))
    assert info.value.variable == "ONEMIN_API_KEY", "a used required variable is still required"
