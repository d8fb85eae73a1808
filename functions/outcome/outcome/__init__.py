"""The outcome Lambda: turns what a run left behind into its final run record."""
