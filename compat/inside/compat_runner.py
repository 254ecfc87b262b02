"""Django's DiscoverRunner, recording each test's outcome in a JSON file the harness reads (COMPAT_RESULTS).

Copied beside runtests.py and named by compat_settings.TEST_RUNNER. Besides the outcomes, the file says which models
of the label's app are built on the base model under test (COMPAT_BASE), so that a transformation that silently
switched nothing can never pass for compatibility.
"""

import json
import os
import traceback
import unittest

from django.apps import apps
from django.test.runner import DiscoverRunner
from django.test.utils import iter_test_cases
from django.utils.module_loading import import_string

# A test's outcome is its worst one (a failing subtest makes the test fail even though others pass).
_RANK = {"passed": 0, "expected failure": 0, "skipped": 0, "failed": 1, "unexpected success": 1, "error": 2}
# Long failures (a diff of serialized data, hundreds of captured queries) keep their start, where the assertion's
# message is, and their end, where the traceback's last frames are.
_DETAIL_HEAD, _DETAIL_TAIL = 8000, 12000


class RecordingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}

    def _record(self, test, outcome, detail=None):
        test_id = test.id()
        previous = self.outcomes.get(test_id)
        if previous is None or _RANK[outcome] > _RANK[previous["outcome"]]:
            self.outcomes[test_id] = {"outcome": outcome, "detail": _shortened(detail)}
        elif _RANK[outcome] and _RANK[outcome] == _RANK[previous["outcome"]]:
            # Another failing subtest of the same test: its failure is part of the test's too.
            previous["detail"] = _shortened(f"{previous['detail']}\n\n{detail}")

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failed", _formatted(err))

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", _formatted(err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected success", "marked as an expected failure in Django, but passed")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._record(test, "failed" if failed else "error", f"{subtest}\n{_formatted(err)}")


def _shortened(detail):
    if detail is None or len(detail) <= _DETAIL_HEAD + _DETAIL_TAIL:
        return detail
    left_out = len(detail) - _DETAIL_HEAD - _DETAIL_TAIL
    return f"{detail[:_DETAIL_HEAD]}\n[... {left_out} characters ...]\n{detail[-_DETAIL_TAIL:]}"


def _formatted(err):
    return "".join(traceback.format_exception(*err))


class RecordingRunner(DiscoverRunner):
    """Records outcomes (RecordingResult) and leaves out the tests named in COMPAT_NOT_RUN (comma-separated ids)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Whole diffs in the recorded failures: a reviewer must see every field that differs, not "[406 chars]".
        unittest.TestCase.maxDiff = None

    def get_resultclass(self):
        return RecordingResult

    def build_suite(self, *args, **kwargs):
        suite = super().build_suite(*args, **kwargs)
        left_out = set(filter(None, os.environ.get("COMPAT_NOT_RUN", "").split(",")))
        if not left_out:
            return suite
        return self.test_suite(test for test in iter_test_cases(suite) if test.id() not in left_out)

    def run_suite(self, suite, **kwargs):
        result = super().run_suite(suite, **kwargs)
        label, base = os.environ["COMPAT_LABEL"], import_string(os.environ["COMPAT_BASE"])
        models = {model.__name__: issubclass(model, base) for model in apps.get_app_config(label).get_models()}
        with open(os.environ["COMPAT_RESULTS"], "w", encoding="utf-8") as file:
            json.dump({"tests": result.outcomes, "models": models}, file, indent=1)
        return result
