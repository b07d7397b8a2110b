"""Hypothesis strategies and settings shared by the fuzz tests (test_*_fuzz.py)."""
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Bounded fuzzing: enough to find shape mistakes, quick enough for every test run.
FUZZ = settings(max_examples=50, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

#: Any JSON value (what a hand-edited JSON file can hold).
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def mutate(document, path_choice, value):
    """``document`` (nested dicts/lists) with the node chosen by ``path_choice`` (a list of ints)
    replaced by ``value``; returns the new document."""
    if not path_choice or not isinstance(document, (dict, list)) or not document:
        return value
    keys = list(document) if isinstance(document, dict) else list(range(len(document)))
    key = keys[path_choice[0] % len(keys)]
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[key] = mutate(document[key], path_choice[1:], value)
    return copy


PATHS = st.lists(st.integers(0, 50), min_size=0, max_size=5)
