"""Hypothesis helpers shared by the scenario round-trip tests."""

from __future__ import annotations

import pytest
from hypothesis import assume

from core.scenarios.query import ScenarioError


def admitted(cls, fields: dict):
    """cls(**fields), with hypothesis told to skip what the cost model refuses: those
    refusals are tested by name (test_limits.py, test_network.py's caps test)."""
    try:
        return cls(**fields)
    except ScenarioError as e:
        assume("would take about" not in str(e))
        raise


def refusal(cls, query: str, key: str) -> str:
    """The message of the ScenarioError cls.parse(query) raises, checked to name `key`
    (as its key and first in the message, "key: ...")."""
    with pytest.raises(ScenarioError) as err:
        cls.parse(query)
    message = str(err.value)
    assert err.value.key == key and message.startswith(f"{key}: "), message
    return message
