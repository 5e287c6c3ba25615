"""The URL parser: every hostile or broken value falls back to its default with a notice; good links round-trip."""

from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ui import params
from ui.settings import Settings

D = Settings()

GOOD = [  # (key, raw value, expected parsed value)
    ("text", "the cat sat", "the cat sat"),
    ("text", "naïve 東京 🍎 שלום", "naïve 東京 🍎 שלום"),
    ("text", "<script>alert(1)</script>", "<script>alert(1)</script>"),  # kept as text; escaped where shown
    ("layer", "3", 3),
    ("head", "0", 0),
    ("temperature", "2.5", 2.5),
    ("temperature", "0.1", 0.1),
    ("causal", "true", True),
    ("causal", "0", False),
    ("causal", "YES", True),
    ("similarity", "cosine", "cosine"),
    ("alpha", "0", 0.0),
    ("alpha", "1", 1.0),
    ("steps", "6", 6),
    ("hide_special", "1", True),
    ("present", "false", False),
    ("model", "lecture", "lecture"),
]

BAD = [  # (key, raw value): each must fall back to the default with a notice
    ("text", ""),
    ("text", "   "),
    ("text", "x" * (params.MAX_TEXT + 1)),
    ("text", "nul\x00byte"),
    ("text", ["a", "b"]),  # repeated key
    ("model", "../../etc/passwd"),
    ("model", "/etc/passwd"),
    ("model", "https://evil.example/model.bin"),
    ("model", "LECTURE"),
    ("model", ""),
    ("model", ["lecture", "lecture"]),
    ("layer", "-1"),
    ("layer", "1.5"),
    ("layer", "1e3"),
    ("layer", str(params.MAX_LAYER)),
    ("layer", "9" * 5000),
    ("layer", "abc"),
    ("head", "0x10"),
    ("head", "999999999999999999999999"),
    ("temperature", "0"),
    ("temperature", "-1"),
    ("temperature", "nan"),
    ("temperature", "inf"),
    ("temperature", "1e309"),
    ("temperature", "99"),
    ("temperature", "warm"),
    ("causal", "maybe"),
    ("causal", "2"),
    ("similarity", "euclid"),
    ("similarity", "Dot"),
    ("alpha", "1.01"),
    ("alpha", "-0.1"),
    ("steps", "0"),
    ("steps", str(params.STEPS[1] + 1)),
    ("n_head", str(next(h for h in range(2, 99) if h not in params.n_head_choices()))),  # does not divide d_model
    ("n_head", "0"),
    ("preset", "../presets"),
    ("preset", "<img src=x onerror=alert(1)>"),
    ("present", ""),
    ("hide_special", ["1", "0"]),
]


@pytest.mark.parametrize("key, raw, expected", GOOD)
def test_good_values_are_read(key, raw, expected):
    settings, notices = params.parse({key: raw})
    assert getattr(settings, key) == expected
    assert notices == []


@pytest.mark.parametrize("key, raw", BAD, ids=lambda v: str(v)[:30])
def test_bad_values_fall_back_with_a_notice(key, raw):
    settings, notices = params.parse({key: raw})
    assert settings == D  # nothing else moved either
    assert len(notices) == 1 and f"`{key}`" in notices[0]
    assert len(notices[0]) < 400  # a huge value is never echoed whole


def test_a_bad_value_does_not_spoil_the_good_ones():
    settings, notices = params.parse({"text": "a b c", "temperature": "hot", "causal": "true"})
    assert (settings.text, settings.temperature, settings.causal) == ("a b c", D.temperature, True)
    assert len(notices) == 1 and "temperature" in notices[0]


def test_unknown_keys_are_left_to_the_pages():
    settings, notices = params.parse({"query": "3", "foo": "bar"})
    assert settings == D and notices == []
    assert "'foo'" in params.unknown_notice({"foo"}) and params.unknown_notice(set()) is None


def test_every_settings_field_has_a_parser():
    assert set(params.PARSERS) == {f.name for f in fields(Settings)}


def test_models_only_from_the_allowlist():
    from attention import registry

    for name in params.model_choices():
        assert name in registry.model_names()


def test_the_defaults_give_an_empty_query():
    assert params.to_query(D) == {}


def test_page_choice_param():
    assert params.parse_choice_param("query", "2", [0, 1, 2], 0) == (2, None)
    value, notice = params.parse_choice_param("query", "7", [0, 1, 2], 0)
    assert value == 0 and "`query`" in notice
    value, notice = params.parse_choice_param("stage", ["raw", "all"], ["raw", "all"], "all")
    assert value == "all" and "2 times" in notice


VALID = st.builds(
    Settings,
    text=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=200).filter(str.strip),
    model=st.sampled_from(params.model_choices()),
    layer=st.integers(0, params.MAX_LAYER - 1),
    head=st.integers(0, params.MAX_HEAD - 1),
    n_head=st.sampled_from(params.n_head_choices()),
    preset=st.sampled_from(params.preset_choices()),
    temperature=st.floats(*params.TEMPERATURE),
    causal=st.booleans(),
    similarity=st.sampled_from(params.SIMILARITIES),
    alpha=st.floats(*params.ALPHA),
    steps=st.integers(*params.STEPS),
    hide_special=st.booleans(),
    present=st.booleans(),
)


@given(VALID)
@settings(max_examples=300, deadline=None)
def test_a_link_round_trips_to_the_same_view(view):
    parsed, notices = params.parse(params.to_query(view))
    assert notices == []
    assert parsed == view


RAW = st.one_of(st.text(max_size=50), st.lists(st.text(max_size=10), max_size=3), st.just("9" * 3000))


@given(st.dictionaries(st.sampled_from([*params.KEYS, "foo", "query"]), RAW, max_size=8))
@settings(max_examples=500, deadline=None)
def test_any_link_parses_to_valid_settings(raw):
    parsed, notices = params.parse(raw)
    # whatever came in, every value is one the sidebar could have produced
    assert parsed.model in params.model_choices()
    assert parsed.n_head in params.n_head_choices() and parsed.preset in params.preset_choices()
    assert params.TEMPERATURE[0] <= parsed.temperature <= params.TEMPERATURE[1]
    assert params.ALPHA[0] <= parsed.alpha <= params.ALPHA[1] and params.STEPS[0] <= parsed.steps <= params.STEPS[1]
    assert 0 <= parsed.layer < params.MAX_LAYER and 0 <= parsed.head < params.MAX_HEAD
    assert parsed.similarity in params.SIMILARITIES and isinstance(parsed.causal, bool)
    assert parsed.text.strip() and len(parsed.text) <= params.MAX_TEXT
    # a key with a notice is back at its default
    for key in set(raw) & set(params.KEYS):
        if any(f"`{key}`" in n for n in notices):
            assert getattr(parsed, key) == getattr(D, key)
    assert len(notices) <= len(set(raw) & set(params.KEYS))
