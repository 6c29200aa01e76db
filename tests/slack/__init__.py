"""The local Slack the tests run Tandem against: localslack, re-exported for the tests."""

from localslack import *  # noqa: F403
from localslack import __all__  # noqa: F401
