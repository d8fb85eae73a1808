"""The reaper Lambda: no instance of this stack outlives its run."""
