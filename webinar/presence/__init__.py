"""Presence: viewing sessions kept open by the stream page's WebSocket, closed by leave, logout or timeout."""
