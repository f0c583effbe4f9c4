"""REST API of libraries and campaigns (included under /api/ by `screening.api.urls`)."""
