"""The ground every stage stands on: settings, errors, the shared data types and the contracts between stages.
It imports no stage."""
