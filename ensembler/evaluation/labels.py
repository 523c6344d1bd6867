"""What a development figure is, in the words every report uses (one definition)."""

from __future__ import annotations

#: a score that was used to select something (a member, a stack, a trial): optimistic
SELECTED_ON = "selected on (optimistic)"
