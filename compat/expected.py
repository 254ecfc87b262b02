"""The reviewed list of expected differences (`expected_differences.toml`), and the comparison of a run against it.

Each entry gives one reason, from the base models' documented contract, why the tests it names fail with them, and
a pattern their failure must match (so that a listed test failing for some other reason is still caught); `base`,
`database` and `django` narrow it to where it applies (everywhere when left out; "Model" is the control run, where
the models stay on models.Model and only the project's installed apps differ from Django's own test settings):

    [[difference]]
    reason = "Soft delete keeps the row, so a forced update of a deleted row still finds it."
    match = "DatabaseError not raised"      # a regular expression searched in the failure's traceback
    tests = ["basic.tests.SelectOnSaveTests.test_select_on_save"]
    base = ["TimestampedModel"]              # "TrackableModel" / "TimestampedModel" (both when left out) / "Model"
    database = ["postgres"]                  # "sqlite" / "postgres"
    django = ["5.2"]                         # feature releases

A failure with no entry, or one that does not match its entry's pattern, is unexpected; a listed test that did not
fail where the entry applies (it passes now, or no longer runs) is stale. Both fail the check, so the list only ever
holds differences that exist and have been explained.

A `[[not_run]]` entry (`tests` and `reason`) names tests left out of every run, the control run included: tests whose
outcome depends on the machine rather than on the models (a wall-clock ratio asserted under a shared CPU).
"""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import CompatError
from .suite import BASES, CONTROL, DATABASES, LABELS

DEFAULT_LIST = Path(__file__).resolve().parent / "expected_differences.toml"
DJANGO_VERSIONS = ("5.2", "6.1")
FAILING = ("failed", "error", "unexpected success")
_KEYS = {"tests", "reason", "match", "base", "database", "django"}


@dataclass(frozen=True)
class Difference:
    """One listed test, with its entry's reason, pattern and scope."""

    test: str
    reason: str
    match: re.Pattern
    bases: frozenset = frozenset(BASES)
    databases: frozenset = frozenset(DATABASES)
    django: frozenset = frozenset(DJANGO_VERSIONS)

    @property
    def label(self):
        return label_of(self.test)

    def applies_to(self, run):
        return (
            self.label == run.label
            and run.base in self.bases
            and run.database in self.databases
            and feature_release(run.django_version) in self.django
        )


@dataclass
class Verdict:
    """One run against the list: {test: Difference} expected, {test: detail} unexpected, [Difference] stale."""

    expected: dict
    unexpected: dict
    stale: list

    @property
    def ok(self):
        return not self.unexpected and not self.stale


def label_of(test_id):
    """The test package of a test id: "basic.tests.C.test_x", or "setUpClass (basic.tests.C)" for a class error."""
    if test_id.endswith(")") and " (" in test_id:
        test_id = test_id.rsplit(" (", 1)[1][:-1]
    return test_id.split(".", 1)[0]


def feature_release(version):
    return ".".join(version.split(".")[:2])


def load(path=DEFAULT_LIST):
    """Every listed test as a Difference; a malformed entry raises CompatError naming it."""
    path = Path(path)
    document = _document(path)
    differences = []
    for number, entry in enumerate(document.get("difference", []), 1):
        differences.extend(_differences(entry, f"{path.name}, entry {number}"))
    _refuse_overlaps(differences, path.name)
    return differences


def load_not_run(path=DEFAULT_LIST):
    """{test id: reason} of the tests left out of every run."""
    path = Path(path)
    left_out = {}
    for number, entry in enumerate(_document(path).get("not_run", []), 1):
        where = f"{path.name}, not_run entry {number}"
        if set(entry) != {"tests", "reason"}:
            raise CompatError(f"{where} needs exactly `tests` and `reason`.")
        tests, reason = entry["tests"], entry["reason"]
        if not isinstance(reason, str) or len(reason.split()) < 4 or not isinstance(tests, list) or not tests:
            raise CompatError(f"{where}: `tests` must list test ids and `reason` say why, in a sentence.")
        for test in tests:
            if not isinstance(test, str) or test.count(".") < 2 or label_of(test) not in LABELS or "," in test:
                raise CompatError(f"{where}: {test!r} is not a test id in one of the labels the check runs.")
            left_out[test] = " ".join(reason.split())
    return left_out


def _document(path):
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise CompatError(f"{path.name} is not valid TOML: {error}") from error
    unknown = set(document) - {"difference", "not_run"}
    if unknown:
        raise CompatError(f"{path.name} has unknown top-level keys: {', '.join(sorted(unknown))}.")
    return document


def _differences(entry, where):
    unknown = set(entry) - _KEYS
    if unknown:
        raise CompatError(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
    tests, reason, match = entry.get("tests"), entry.get("reason"), entry.get("match")
    if not isinstance(tests, list) or not tests or not all(isinstance(test, str) for test in tests):
        raise CompatError(f"{where} needs `tests`, a list of test ids such as basic.tests.ModelTest.test_example.")
    if not isinstance(reason, str) or len(reason.split()) < 4:
        raise CompatError(f"{where} needs `reason`: why the contract makes these tests fail, in a sentence.")
    if not isinstance(match, str) or not match.strip():
        raise CompatError(f"{where} needs `match`, a regular expression the failures' tracebacks contain.")
    try:
        pattern = re.compile(match)
    except re.error as error:
        raise CompatError(f"{where}: `match` is not a valid regular expression: {error}.") from error
    scope = {
        "bases": _choices(entry, "base", (*BASES, CONTROL), where, default=BASES),
        "databases": _choices(entry, "database", DATABASES, where),
        "django": _choices(entry, "django", DJANGO_VERSIONS, where),
    }
    for test in tests:
        if test.count(".") < 2 or label_of(test) not in LABELS:
            raise CompatError(f"{where}: {test!r} is not a test id in one of the labels the check runs.")
        if not any(label_of(test) in BASES.get(base, LABELS) for base in scope["bases"]):
            raise CompatError(f"{where}: {test!r} never runs with {' or '.join(sorted(scope['bases']))}.")
    return [Difference(test=test, reason=" ".join(reason.split()), match=pattern, **scope) for test in tests]


def _choices(entry, key, allowed, where, default=None):
    value = entry.get(key, list(default or allowed))
    if not isinstance(value, list) or not value or any(item not in allowed for item in value):
        raise CompatError(f"{where}: `{key}` must be a non-empty list drawn from {', '.join(allowed)}.")
    return frozenset(value)


def _refuse_overlaps(differences, filename):
    seen = {}
    for difference in differences:
        for other in seen.get(difference.test, ()):
            overlap = difference.bases & other.bases and difference.databases & other.databases
            if overlap and difference.django & other.django:
                raise CompatError(f"{filename} lists {difference.test} twice for the same base, database and Django.")
        seen.setdefault(difference.test, []).append(difference)


def compare(run, differences):
    """Classify a LabelRun's failures against the list."""
    if run.crash:
        # Nothing ran to compare: the crash itself is the one unexpected outcome.
        return Verdict(expected={}, unexpected={f"{run.label} (the whole run)": run.crash}, stale=[])
    applicable = {difference.test: difference for difference in differences if difference.applies_to(run)}
    failing = {test: result for test, result in run.outcomes.items() if result["outcome"] in FAILING}
    expected, unexpected = {}, {}
    for test, result in failing.items():
        detail = f"{result['outcome']}: {result['detail'] or ''}"
        difference = applicable.get(test)
        if difference is None:
            unexpected[test] = detail
        elif difference.match.search(result["detail"] or ""):
            expected[test] = difference
        else:
            unexpected[test] = (
                f"{detail}\n(listed as expected, but the failure does not match /{difference.match.pattern}/: "
                f"it fails for another reason than the one listed)"
            )
    stale = [difference for test, difference in applicable.items() if test not in failing]
    return Verdict(expected=expected, unexpected=unexpected, stale=stale)
