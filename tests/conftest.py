"""Test-session setup: mmwsss imported, mmseg default scope."""
import mmwsss  # noqa: F401  (compat fixes + registration)
from mmseg.utils import register_all_modules

register_all_modules(init_default_scope=True)
