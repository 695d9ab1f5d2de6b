"""The evaluation's two forms, parsed and validated: the organiser's test (written as plain text, one question per
paragraph: the question, then one option a line, `*` before each correct one and `-` before the others) with its
pass mark, and the attendee's answers (only the options of the test's own questions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from webinar.evaluation.queries import Question, QuestionInput
from webinar.i18n import gettext as _
from webinar.tables import DEFAULT_PASS_MARK
from webinar.web.forms import has_control_chars, text

QUESTIONS_MOST = 50
OPTIONS_MOST = 10
QUESTION_MAX = 1000
OPTION_MAX = 500
TEST_MAX_CHARS = QUESTIONS_MOST * (QUESTION_MAX + OPTIONS_MOST * (OPTION_MAX + 3))
CORRECT, WRONG = "*", "-"


@dataclass(frozen=True)
class TestInput:
    """What the organiser set: the evaluation on or off, its pass mark in percent, and its questions."""

    on: bool
    pass_mark: int
    questions: tuple[QuestionInput, ...]


def as_text(test: list[Question]) -> str:
    """A stored test in the form's plain-text notation (what the organiser edits)."""
    return "\n\n".join(
        "\n".join([q.text, *(f"{CORRECT if o.correct else WRONG} {o.text}" for o in q.options)]) for q in test
    )


def _question(lines: list[tuple[int, str]]) -> tuple[QuestionInput | None, str | None]:
    """One paragraph: the question on its first line, then its options; or what is wrong with it."""
    (first, question), options = lines[0], lines[1:]
    if question[:1] in (CORRECT, WRONG):
        return None, _("Line %(line)s: a question comes first, before its options.") % {"line": first}
    if len(question) > QUESTION_MAX:
        return None, _("Line %(line)s: a question has at most %(most)s characters.") % {
            "line": first,
            "most": QUESTION_MAX,
        }
    parsed: list[tuple[str, bool]] = []
    for number, line in options:
        mark, option = line[:1], line[1:].strip()
        if mark not in (CORRECT, WRONG) or not option:
            return None, _(
                "Line %(line)s: an option starts with * (a correct answer) or - (a wrong one), then its text."
            ) % {"line": number}
        if len(option) > OPTION_MAX:
            return None, _("Line %(line)s: an option has at most %(most)s characters.") % {
                "line": number,
                "most": OPTION_MAX,
            }
        if option in (o for o, _correct in parsed):
            return None, _("Line %(line)s: this question already has the option “%(option)s”.") % {
                "line": number, "option": option,
            }  # fmt: skip
        parsed.append((option, mark == CORRECT))
    if not 2 <= len(parsed) <= OPTIONS_MOST:
        return None, _("Line %(line)s: a question has between 2 and %(most)s options.") % {
            "line": first, "most": OPTIONS_MOST,
        }  # fmt: skip
    if not any(correct for _option, correct in parsed):
        return None, _("Line %(line)s: mark at least one option of this question correct with *.") % {"line": first}
    return QuestionInput(question, tuple(parsed)), None


def parse_test(raw: str) -> tuple[tuple[QuestionInput, ...], str | None]:
    """The questions written in `raw`, or the first thing wrong with them (naming its line)."""
    if len(raw) > TEST_MAX_CHARS:
        return (), _("This test is far too long.")
    if has_control_chars(raw, allow_newlines=True) or "\t" in raw:
        return (), _("Remove the control characters from this field.")
    paragraphs: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            paragraphs[-1].append((number, line.strip()))
        elif paragraphs[-1]:
            paragraphs.append([])
    questions: list[QuestionInput] = []
    for lines in (p for p in paragraphs if p):
        question, problem = _question(lines)
        if problem:
            return (), problem
        assert question is not None
        questions.append(question)
    if len(questions) > QUESTIONS_MOST:
        return (), _("A test has at most %(most)s questions.") % {"most": QUESTIONS_MOST}
    return tuple(questions), None


def _pass_mark(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 100 else None


def parse_test_form(form: FormData) -> tuple[TestInput | None, dict[str, str], dict[str, Any]]:
    """The organiser's evaluation form → (what to save | None, errors by field, the values to show again)."""
    values: dict[str, Any] = {"evaluation": form.get("evaluation") is not None}
    values |= {"pass_mark": text(form, "pass_mark"), "questions": text(form, "questions")}
    errors: dict[str, str] = {}
    pass_mark = _pass_mark(values["pass_mark"])
    if pass_mark is None:
        errors["pass_mark"] = _("Give the pass mark as a whole percentage from 1 to 100.")
    questions, problem = parse_test(values["questions"])
    if problem:
        errors["questions"] = problem
    elif values["evaluation"] and not questions:
        errors["questions"] = _("An evaluation needs at least one question.")
    if errors:
        return None, errors, values
    assert pass_mark is not None
    return TestInput(values["evaluation"], pass_mark, questions), {}, values


def test_values(on: bool, pass_mark: int | None, test: list[Question]) -> dict[str, Any]:
    """The organiser's form for a stored test."""
    return {"evaluation": on, "pass_mark": str(pass_mark or DEFAULT_PASS_MARK), "questions": as_text(test)}


def field(question: Question) -> str:
    """The form field a question's answer comes in."""
    return f"q{question.id}"


def parse_answers(form: FormData, test: list[Question]) -> tuple[dict[int, frozenset[int]], dict[str, str]]:
    """The options chosen for each question, by id; errors by field for an unanswered question, an option that is
    not one of the question's, or two answers to a one-answer question."""
    chosen: dict[int, frozenset[int]] = {}
    errors: dict[str, str] = {}
    known = {field(q) for q in test}
    if any(name.startswith("q") and name not in known for name in form.keys()):
        errors["form"] = _("This form does not match the evaluation; reload the page and answer again.")
    for question in test:
        name, ids = field(question), {o.id for o in question.options}
        raw = form.getlist(name)
        picked = {int(v) for v in raw if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) < 19}
        if not raw:
            errors[name] = _("Answer this question.")
        elif len(picked) != len(raw) or not picked <= ids:
            errors[name] = _("That is not one of this question's options.")
        elif len(picked) > 1 and not question.multiple:
            errors[name] = _("Choose one answer to this question.")
        else:
            chosen[question.id] = frozenset(picked)
    return chosen, errors
