"""Budget locks (issue 16): spending caps that alert, lock their scope, and unlock at the reset."""
