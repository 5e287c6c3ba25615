"""A real model that is not on the server: the page says how to get it and offers a download with progress.
Only a click downloads (a link to a missing model falls back instead: tests/test_robust_params.py)."""

import pytest
from streamlit.testing.v1 import AppTest

from attention import registry
from attention.models import loading as checkpoint
from tests.conftest import ROOT

MISSING = [m for m in registry.model_names() if m not in registry.available_models()]


def pick(at, model):  # -> the AppTest after choosing `model` in the sidebar
    [select] = [s for s in at.selectbox if s.label == "Model"]
    assert f"{model} (download)" in select.options  # the options as shown: marked as not on this server yet
    return select.set_value(model).run()


@pytest.fixture
def missing_model(monkeypatch):  # -> name of an allowlisted model with no checkpoint here (never fetched)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if not MISSING:
        pytest.skip("every allowlisted checkpoint is installed here")
    return MISSING[-1]


def test_missing_model_gets_a_message_and_a_download_button(missing_model, monkeypatch):
    calls = []

    def fake_download(name, progress=None, hf_cache=None):
        calls.append(name)
        progress(0.5, "halfway")
        progress(1.0, "done")

    monkeypatch.setattr(checkpoint, "download", fake_download)
    at = pick(AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run(), missing_model)
    assert not at.exception
    assert any("not available offline" in w.value for w in at.warning)
    [button] = [b for b in at.button if b.label.startswith("Download")]
    assert calls == []  # choosing the model alone downloads nothing
    button.click().run()
    assert calls == [missing_model] and not at.exception


def test_a_failed_download_says_so_on_the_page(missing_model, monkeypatch):
    def offline(name, progress=None, hf_cache=None):
        raise OSError("no route to huggingface.co")

    monkeypatch.setattr(checkpoint, "download", offline)
    at = pick(AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run(), missing_model)
    [b for b in at.button if b.label.startswith("Download")][0].click().run()
    assert not at.exception
    assert any("download failed" in e.value and "no route" in e.value for e in at.error)
