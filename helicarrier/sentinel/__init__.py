"""The stuck-loop sentinel (issue 16): detectors over what agents report, and an escalation ladder."""
