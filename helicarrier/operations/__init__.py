"""Running Helicarrier in production: maintenance mode, backups and restores, moving between databases."""
