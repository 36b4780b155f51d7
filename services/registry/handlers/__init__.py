"""Temporary: every handler under its old name while callers move to the area modules."""

# ruff: noqa: F401, F403
from services.registry.handlers.common import *
from services.registry.handlers.programmes import *
from services.registry.handlers.leaders import *
from services.registry.handlers.erasure import *
from services.registry.handlers.rounds import *
from services.registry.handlers.review import *
from services.registry.handlers.publishing import *
from services.registry.handlers.answers import *
from services.registry.queries import *
