"""Operations: request ids, health and readiness, metrics."""
