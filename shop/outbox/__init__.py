"""The transactional outbox: a writer records an event in its own transaction; a dispatcher hands it to each
subscriber exactly once. Writers never import their listeners (see services.event_record)."""
