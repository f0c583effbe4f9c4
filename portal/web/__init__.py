"""The portal's pages: the shell (navigation, sign-in, errors), teams and API tokens."""
