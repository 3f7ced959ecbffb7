"""The golden gate's machinery: running suites against a serving node, checking answers."""
