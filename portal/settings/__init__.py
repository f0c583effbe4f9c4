"""Settings by purpose: `development` (embedded defaults), `production`, `test`; all read `base`."""
