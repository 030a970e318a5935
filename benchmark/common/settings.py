"""Per-profile settings tables: the row a profile reads."""
from __future__ import annotations


# A profile without a row of its own in a settings table reads the row named here ("ci": CI's gateable
# profile overrides the smoke rows only where a model needs more to leave chance; "confirm" is the quick
# profile on more test videos, and trains exactly as quick does).
SETTINGS_FALLBACK = {"ci": "smoke", "confirm": "quick"}


def settings_for(table: dict, profile: str, name: str | None = None):
    """``table[profile]`` (or ``table[(name, profile)]``), else the row of its fallback profile."""
    for candidate in (profile, SETTINGS_FALLBACK.get(profile)):
        key = candidate if name is None else (name, candidate)
        if candidate is not None and key in table:
            return table[key]
    raise KeyError(f"no settings for profile {profile!r}" + (f" of {name!r}" if name else "")
                   + f"; rows: {', '.join(map(str, table))}")

