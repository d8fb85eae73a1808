#!/bin/bash
# A run that fails: the workflow ends LongTask.ScriptFailed with exitCode 3.
echo "about to fail on purpose"
exit 3
