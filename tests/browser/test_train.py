"""/train in Chromium: a short training runs live, then the snapshot slider, the predictions and the √d_head
comparison show; the same link in another browser shows the finished run without training again."""

import pytest
from test_pages import CHART, CLIPPED, EXCEPTION, shoot

pytestmark = pytest.mark.browser
LINK = "train?train_steps=20&train_seed=11&train_heads=2"


def heading(page, name):
    return page.get_by_role("heading", name=name, exact=True)


def test_train_live_then_snapshots_and_the_scaling_comparison(server, page, fresh_page, screenshots):
    page.goto(f"{server}/{LINK}")
    page.get_by_role("button", name="Train", exact=True).click(timeout=90_000)
    heading(page, "Watch attention being learned").wait_for(timeout=300_000)
    page.get_by_text("After step").wait_for(timeout=60_000)
    assert page.locator('[data-testid="stSlider"]').count() >= 1
    sidebar = page.locator('[data-testid="stSidebar"]')  # this page's settings are on the page, not in the sidebar
    assert sidebar.get_by_text("Presentation mode").is_visible() and sidebar.locator("textarea").count() == 0
    page.get_by_role("button", name="Train both").click()
    page.get_by_text("Largest weight on average").wait_for(timeout=300_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    assert page.locator(CHART).count() == 5  # loss, snapshot, along the way, predictions, comparison
    assert page.locator(EXCEPTION).count() == 0 and page.evaluate(CLIPPED) == []
    shoot(page, screenshots / "train.png")
    assert page.errors == [], page.errors

    fresh_page.goto(f"{server}/{LINK}")  # another machine, the same link: the cached run, no second training
    heading(fresh_page, "Watch attention being learned").wait_for(timeout=60_000)
    assert fresh_page.get_by_role("button", name="Train", exact=True).is_disabled()
    assert fresh_page.get_by_text("Largest weight on average").is_visible()


def test_stop_ends_a_running_training(server, page, screenshots):
    page.goto(f"{server}/train?train_steps=1500&train_seed=12&train_heads=2")
    page.get_by_role("button", name="Train", exact=True).click(timeout=90_000)
    page.get_by_text("step 1", exact=False).first.wait_for(timeout=120_000)  # the live progress bar
    page.get_by_role("button", name="Stop").click(timeout=60_000)
    page.get_by_text("was stopped at step").wait_for(timeout=120_000)
    assert page.get_by_role("button", name="Train", exact=True).is_enabled()
    assert page.locator(EXCEPTION).count() == 0
    shoot(page, screenshots / "train-stopped.png")
    assert page.errors == [], page.errors
