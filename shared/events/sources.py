"""The EventBridge sources Nudge knows, apart from the event contract's models, so that code which only
names a source (the settings, the trait policy, the bus adapter) does not load the contract."""

from __future__ import annotations

# The app backend's EventBridge source. Contact points (email, phone, push endpoint, consent) are taken
# only from trusted sources: this one unless the stack's ``trusted_event_sources`` context says otherwise
# (docs/security.md); ingest reads the list from TRUSTED_EVENT_SOURCES.
APP_EVENT_SOURCE = "nudge.app"

# Nudge's own events on its bus (the catalog's price drops and restocks, shared/catalog/announcements.py):
# the ingest rule leaves them out, the catalog campaigns' rules take them.
INTERNAL_EVENT_SOURCE = "nudge.internal"
