"""Teams, memberships and personal API tokens: who may see and change what."""
