"""Analytics without SQL or Dash: session filters, sample-aware scoring, and the analytics API routes."""
