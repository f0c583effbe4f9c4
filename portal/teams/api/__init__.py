"""REST API of teams, members, API tokens and the caller (`portal.teams.api.urls`)."""
