"""REST API of HPO experiments: experiments for people (personal tokens), trial endpoints for jobs
(trial tokens)."""
