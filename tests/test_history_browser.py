"""The history's admin pages in a real browser, on the production path (scripts/release, then scripts/start-web on
PostgreSQL, as tests/test_production.py runs them): a project with an audited app (`make app base=trackable`), a
change made and then reverted from the admin ("Revert to before this change", confirmed), and the Activity page.
Screenshots go with the other browser tests' (out/artefacts/browser-<django>/history-NN-*.png).
"""

import pytest

from .test_production import (
    ADMIN,
    ARTEFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    POSTGRES_SERVERS,
    released_and_serving,
)


@pytest.fixture(scope="module", params=POSTGRES_SERVERS, ids=lambda s: f"django{s[0]}-{s[1]}")
def audited_server(request, bakery, tmp_path_factory):
    """A production server of a project with one audited app, `notes` (TrackableModel, TrackableAdminMixin)."""
    version, _database = request.param
    project = bakery.installed(bakery.bake(django_version=version, project_name="History Browser"))
    if not (project.path / "apps" / "notes").exists():
        project.run("python", "scripts/new_app.py", "notes", "--base", "trackable")
    workdir = tmp_path_factory.mktemp(f"history-browser-{version}")
    server_url = request.getfixturevalue("postgres_url")
    with released_and_serving(project, server_url, workdir) as (_env, port, _release_output, username, password):
        yield version, f"http://localhost:{port}", username, password


def test_a_real_browser_reverts_a_change_and_reads_the_activity_page(audited_server, tmp_path):
    from playwright.sync_api import sync_playwright

    version, base, username, password = audited_server
    folder = ARTEFACTS / f"browser-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("history-*.png"):
        old.unlink()
    shots = []

    def shot(page, name):
        path = folder / f"history-{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=path, full_page=True)
        shots.append(path)

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = context.new_page()
            page.goto(base + ADMIN + "login/")
            page.fill("#id_username", username)
            page.fill("#id_password", password)
            page.click("input[type=submit]")
            page.wait_for_url(base + ADMIN)
            page.goto(base + ADMIN + "notes/note/add/")
            page.fill("#id_title", "The first draft")
            page.click("input[name=_continue]")
            page.wait_for_selector("ul.messagelist li.success")
            page.fill("#id_title", "A careless edit")
            page.click("input[name=_continue]")
            page.wait_for_selector("table.audit-history")
            shot(page, "change-page")
            page.click("a.revert-link")
            page.wait_for_selector("table.revert-changes")
            confirmation = page.locator("table.revert-changes tbody tr").all_inner_texts()
            shot(page, "revert-confirmation")
            page.click("input[type=submit][value='Yes, revert']")
            page.wait_for_selector("ul.messagelist li.success")
            reverted_message = page.locator("ul.messagelist li.success").inner_text()
            title_after = page.input_value("#id_title")
            actions = page.locator("table.audit-history tbody tr td:nth-child(3)").all_inner_texts()
            shot(page, "reverted")
            page.goto(base + ADMIN + "activity/")
            page.wait_for_selector("table.audit-activity")
            activity_rows = page.locator("table.audit-activity tbody tr").all_inner_texts()
            shot(page, "activity")
        finally:
            context.close()

    assert [path.name for path in shots] == [
        "history-01-change-page.png",
        "history-02-revert-confirmation.png",
        "history-03-reverted.png",
        "history-04-activity.png",
    ]
    assert all(path.stat().st_size > 5000 for path in shots)
    assert len(confirmation) == 1
    assert "A careless edit" in confirmation[0]
    assert "The first draft" in confirmation[0]
    assert "reverted to before that change" in reverted_message
    assert title_after == "The first draft"
    assert [action.splitlines()[0] for action in actions] == ["Reverted", "Changed", "Created"]
    assert len(activity_rows) == 3
    assert all(username in row for row in activity_rows)
    assert "Reverted" in activity_rows[0]
    assert "Note" in activity_rows[0]
