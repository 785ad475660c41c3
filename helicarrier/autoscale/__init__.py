"""Worker auto-scaling (issue 16): how many agent workers the fleet should run now, and the actuators that
make it so. ``policy`` decides (plain functions), ``service`` reads the signals and keeps the decision,
``actuators`` act on it (a command hook such as ``kubectl scale``; the demo fleet's local supervisor lives
in ``helicarrier.demo.fleet``)."""
