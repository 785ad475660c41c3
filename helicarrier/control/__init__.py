"""Command & Control: commands sent to agents (kill, inject, model), their lifecycle, kill verification."""
