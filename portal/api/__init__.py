"""REST API infrastructure shared by every app: authentication, scoping, errors, paging, throttling."""
