"""Shared fixtures: the golden and response directories, and standard test settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from koppel.targets.itslearning.values import Credentials, RequestHeader

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
RESPONSES = HERE / "responses"

# The credentials every golden envelope carries (the sandbox's defaults).
CREDENTIALS = Credentials("koppel", "sandbox")


def header(message_id: str = "1") -> RequestHeader:
    return RequestHeader(message_id, CREDENTIALS)


@pytest.fixture
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture
def responses_dir() -> Path:
    return RESPONSES
