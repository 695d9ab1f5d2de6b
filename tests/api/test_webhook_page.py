"""The back office's webhook page: each subscription's last answers, and "send test" delivering a signed test to a
real receiver; another organisation's page and button are a 404."""

from __future__ import annotations

import json

import pytest
from standardwebhooks import Webhook

from tests.api.receiver import running_receiver
from tests.conftest import csrf_for, login_staff
from webinar.webhooks import sender, subscriptions


@pytest.fixture
def settings(settings):
    return settings.with_overrides(webhook_allow_private=True)


async def test_send_test_and_the_log(settings, client, create_organisation, create_staff, db):
    org_id, other = await create_organisation(), await create_organisation()
    with running_receiver() as receiver:
        async with db.transaction() as conn:
            sub = await subscriptions.create(conn, org_id, receiver.url, ["registration.created"], "test", None)
            theirs = await subscriptions.create(conn, other, receiver.url, ["registration.created"], "test", None)
        organiser = await create_staff("organiser", org_id)
        assert (await login_staff(client, organiser.email)).status_code == 303
        page = f"/admin/organisations/{org_id}/webhooks"
        csrf = await csrf_for(client, page)
        assert "Nothing sent yet." in (await client.get(page)).text
        sent = await client.post(f"{page}/{sub.id}/test", data={"csrf_token": csrf})
        assert sent.status_code == 303
        while await sender.deliver_pass(settings, db, "test"):
            pass
        [got] = receiver.received
        assert Webhook(sub.secret).verify(got.body, got.headers)["type"] == "webhook.test"
        shown = (await client.get(page)).text
        assert "webhook.test" in shown and "<code>204</code>" in shown
        assert (await client.get(f"/admin/organisations/{other}/webhooks")).status_code == 404
        refused = await client.post(
            f"/admin/organisations/{other}/webhooks/{theirs.id}/test", data={"csrf_token": csrf}
        )
        assert refused.status_code == 404
        mixed = await client.post(f"{page}/{theirs.id}/test", data={"csrf_token": csrf})
        assert mixed.status_code == 404
        assert len(receiver.received) == 1 and json.loads(got.body)["data"]["test"] is True
