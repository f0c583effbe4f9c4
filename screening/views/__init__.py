"""Pages of libraries and campaigns (routed by `screening.urls` and `screening.campaign_urls`)."""
