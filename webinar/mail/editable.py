"""The e-mails an organiser may rewrite, declared once: each kind's name, label, when it goes, its placeholders.

The editor (/admin/events/{id}/emails), its validation, the preview and the sender all read this list; a new kind of
registrant e-mail appears in the editor by adding one `Editable` here (docs/emails.md says what it needs).
"""

from __future__ import annotations

from dataclasses import dataclass

from webinar.i18n import N_

LANGUAGES = ("ro", "en")
# Every registrant e-mail knows who it is for, which event, when and who organises it.
COMMON = ("first_name", "last_name", "event_title", "starts_at", "organisation")


@dataclass(frozen=True)
class Editable:
    """One kind of e-mail the organiser may rewrite.

    `kind` is the outbox's kind and the template's name (emails/<kind>.txt); `key` the name organisers see (in the
    editor's address and the docs); `placeholders` the ones this e-mail has a value for, beyond COMMON; `required`
    the ones it cannot go without (a confirmation without its join link leaves the registrant unable to join)."""

    kind: str
    key: str
    label: str
    sent_when: str
    placeholders: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    @property
    def available(self) -> tuple[str, ...]:
        """Every placeholder this e-mail may use, in the order the editor lists them."""
        return (*COMMON, *self.placeholders)


EDITABLE: tuple[Editable, ...] = (
    Editable(
        "confirmation", "confirmation", N_("Registration confirmed"),
        N_("When a registration is accepted at once: with the join link and the calendar invitation."),
        ("join_link", "cancel_link"), ("join_link",),
    ),
    Editable(
        "received", "pending", N_("Registration pending approval"),
        N_("When a registration awaits the organiser's approval."),
        ("cancel_link",),
    ),
    Editable(
        "approved", "approved", N_("Registration approved"),
        N_("When the organiser approves a registration: with the join link and the calendar invitation."),
        ("join_link", "cancel_link"), ("join_link",),
    ),
    Editable("rejected", "rejected", N_("Registration rejected"), N_("When the organiser rejects a registration.")),
    Editable(
        "waitlisted", "waitlisted", N_("Placed on the waiting list"),
        N_("When a full event puts a registration on its waiting list."),
        ("cancel_link", "place"),
    ),
    Editable(
        "promoted", "promoted", N_("Promoted from the waiting list"),
        N_("When a seat frees up for the first in line (with the join link, unless the organiser approves each "
           "registration)."),
        ("join_link", "cancel_link"),
    ),
    Editable(
        "cancelled", "cancelled", N_("Registration cancelled"), N_("When a registrant cancels their registration."),
    ),
    Editable(
        "update", "update", N_("The event's time or stream changed"),
        N_("When the event's start, end or stream changes: to approved registrants, with the join link and the "
           "calendar invitation that moves their entry."),
        ("join_link", "cancel_link"), ("join_link",),
    ),
    Editable(
        "event_cancelled", "event_cancelled", N_("The event is cancelled"),
        N_("When the event is cancelled: to everyone registered, with the invitation that removes it from their "
           "calendar."),
    ),
    Editable(
        "reminder", "reminder", N_("Reminder before the event"),
        N_("At each of the event's reminder times: to approved registrants, with the join link and the calendar "
           "invitation."),
        ("join_link", "cancel_link"), ("join_link",),
    ),
    Editable(
        "followup_attended", "followup_attended", N_("Thank you for attending"),
        N_("After the end, to those who attended: with the replay and the certificate when there are."),
        ("replay_link", "certificate_link"),
    ),
    Editable(
        "followup_missed", "followup_missed", N_("Sorry we missed you"),
        N_("After the end, to approved registrants who did not attend: with the replay when there is one."),
        ("replay_link",),
    ),
)  # fmt: skip
BY_KEY = {e.key: e for e in EDITABLE}
BY_KIND = {e.kind: e for e in EDITABLE}

# Staff's own message to an event's registrants (/admin/events/{id}/message): not a kind of the editor, but checked and
# written the same way, with every placeholder of SPEC §12 (a link the registrant has none of is left empty).
MESSAGE = Editable(
    "message", "message", N_("Message to the registrants"),
    N_("When staff e-mail the event's registrants (all of them, or those of one status)."),
    ("join_link", "cancel_link", "replay_link", "certificate_link"),
)  # fmt: skip
